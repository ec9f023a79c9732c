package preflight

import "github.com/berthsh/berth/inventory"

// checkSudo: a non-root login must be able to sudo, without a password or with the one the inventory names, or
// nothing can be installed.
func checkSudo(in *input, h *inventory.Host, f *Facts) []Result {
	if f.Sudo == nil {
		return []Result{{Host: h.Name, Check: "sudo", Status: OK, Detail: "logs in as root (or sudo disabled)"}}
	}
	if f.Sudo.OK {
		return []Result{{Host: h.Name, Check: "sudo", Status: OK, Detail: "sudo works"}}
	}
	t := in.inv.SSHFor(h)
	fix := "give berth " + t.User + "'s sudo password by reference (ssh.sudoPasswordFrom), allow " + t.User +
		" passwordless sudo (/etc/sudoers.d/berth: `" + t.User + " ALL=(ALL) NOPASSWD: ALL`) or log in as root"
	if !t.SudoPassword.IsZero() {
		fix = "check the sudo password " + string(t.SudoPassword) + " names, and that " + t.User + " may use sudo on the host"
	}
	return []Result{{Host: h.Name, Check: "sudo", Status: Fail, Detail: f.Sudo.Err, Fix: fix}}
}
