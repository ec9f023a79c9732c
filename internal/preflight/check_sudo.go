package preflight

import "github.com/berthsh/berth/inventory"

// checkSudo: a non-root login must be able to sudo without a password, or nothing can be installed.
func checkSudo(in *input, h *inventory.Host, f *Facts) []Result {
	if f.Sudo == nil {
		return []Result{{Host: h.Name, Check: "sudo", Status: OK, Detail: "logs in as root (or sudo disabled)"}}
	}
	if f.Sudo.OK {
		return []Result{{Host: h.Name, Check: "sudo", Status: OK, Detail: "non-interactive sudo works"}}
	}
	user := in.inv.SSHFor(h).User
	return []Result{{Host: h.Name, Check: "sudo", Status: Fail, Detail: f.Sudo.Err,
		Fix: "allow " + user + " passwordless sudo (/etc/sudoers.d/berth: `" + user + " ALL=(ALL) NOPASSWD: ALL`) or log in as root"}}
}
