package action

import (
	"fmt"
	"log/slog"

	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Target returns the SSH target of an inventory host: its effective SSH settings with file paths resolved against
// the inventory's directory and secret references resolved only when a connection is opened.
func Target(inv *inventory.Inventory, h *inventory.Host) remote.Target {
	return TargetFrom(inv.SSHFor(h), inv.Dir())
}

// TargetFrom maps the inventory's view of one host's SSH settings onto a remote target. baseDir resolves relative
// file: secret references.
func TargetFrom(t inventory.SSHTarget, baseDir string) remote.Target {
	out := remote.Target{Host: t.Host, Address: t.Address, Port: t.Port, User: t.User,
		IdentityFiles: t.IdentityFiles, Agent: t.Agent, Password: secret(t.PasswordFrom, baseDir), Sudo: t.Sudo,
		SudoPassword: secret(t.SudoPassword, baseDir),
		KnownHosts:   t.KnownHosts, HostKeys: t.HostKeys, HostKeysAt: fmt.Sprintf("hosts[%s].ssh.hostKeys", t.Host),
		Timeout: t.Timeout.D(), Keepalive: t.Keepalive.D()}
	if b := t.Bastion; b != nil {
		files := t.IdentityFiles
		if b.IdentityFile != "" {
			files = []string{b.IdentityFile}
		}
		user := b.User
		if user == "" {
			user = t.User
		}
		out.Bastion = &remote.Target{Host: "bastion " + b.Address, Address: b.Address, Port: b.Port, User: user,
			IdentityFiles: files, Agent: t.Agent, Password: secret(b.PasswordFrom, baseDir), KnownHosts: t.KnownHosts,
			HostKeys: t.BastionPins, HostKeysAt: t.BastionAt + ".hostKey", Timeout: t.Timeout.D(), Keepalive: t.Keepalive.D()}
	}
	return out
}

// secret turns a reference into a remote.Secret, nil when none is set.
func secret(ref inventory.SecretRef, baseDir string) remote.Secret {
	if ref.IsZero() {
		return nil
	}
	return func() (string, error) { return ref.Resolve(baseDir) }
}

// Lookup returns the targets of an inventory's hosts by name.
func Lookup(inv *inventory.Inventory) remote.Lookup {
	return func(name string) (remote.Target, error) {
		h := inv.Host(name)
		if h == nil {
			return remote.Target{}, fmt.Errorf("host %s is not in the inventory", name)
		}
		return Target(inv, h), nil
	}
}

// NewPool returns a pool of connections to the inventory's hosts; nothing connects until a host is used.
func NewPool(inv *inventory.Inventory, log *slog.Logger) *remote.Pool {
	return remote.NewPool(Lookup(inv), remote.PoolOptions{Logger: log})
}
