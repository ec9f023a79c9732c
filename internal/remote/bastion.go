package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/berthsh/berth/inventory"
	"golang.org/x/crypto/ssh"
)

// Jump is an SSH connection to a bastion (jump host) through which connections to the hosts are opened, the way
// `ssh -J` does: each host's SSH session is tunnelled in a direct-tcpip channel of the bastion's connection, and
// authenticated and host-key checked end to end. One Jump can serve every host behind the same bastion.
type Jump struct {
	login     login
	keepalive inventory.Duration
	log       *slog.Logger

	mu     sync.Mutex
	client *ssh.Client
	closer func()
}

// NewJump prepares (without connecting) the bastion connection described by t.Bastion. baseDir resolves file:
// secret references. The bastion's key defaults to the host's identity files, its host key to ssh.knownHosts.
func NewJump(t inventory.SSHTarget, baseDir string, log *slog.Logger) (*Jump, error) {
	b := t.Bastion
	if b == nil {
		return nil, fmt.Errorf("host %s has no bastion", t.Host)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	files := t.IdentityFiles
	if b.IdentityFile != "" {
		files = []string{b.IdentityFile}
	}
	user := b.User
	if user == "" {
		user = t.User
	}
	policy, err := newHostKeyPolicy("bastion "+b.Address, t.KnownHosts, t.BastionPins, "ssh.bastion.hostKey")
	if err != nil {
		return nil, err
	}
	return &Jump{
		login: login{name: "bastion " + b.Address, address: joinHostPort(b.Address, b.Port),
			creds:  credentials{user: user, identityFiles: files, agent: t.Agent, password: b.PasswordFrom, baseDir: baseDir},
			policy: policy, timeout: t.Timeout.D()},
		keepalive: t.Keepalive,
		log:       log,
	}, nil
}

// Address returns the bastion's host:port.
func (j *Jump) Address() string { return j.login.address }

// DialContext opens a channel from the bastion to addr, connecting to the bastion first when needed.
func (j *Jump) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	c, err := j.connect(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("through bastion %s: %w", j.login.address, err)
	}
	return conn, nil
}

func (j *Jump) connect(ctx context.Context) (*ssh.Client, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.client != nil {
		return j.client, nil
	}
	c, closer, err := j.login.open(ctx, directDial)
	if err != nil {
		return nil, err
	}
	j.client, j.closer = c, closer
	j.log.Debug("connected to bastion", "address", j.login.address, "user", j.login.creds.user)
	go keepalive(c, j.keepalive.D(), j.log, j.login.name, nil)
	go func() {
		c.Wait()
		j.mu.Lock()
		if j.client == c {
			j.closer()
			j.client, j.closer = nil, nil
		}
		j.mu.Unlock()
	}()
	return c, nil
}

// Close closes the bastion connection and with it every tunnelled connection.
func (j *Jump) Close() error {
	j.mu.Lock()
	c, closer := j.client, j.closer
	j.client, j.closer = nil, nil
	j.mu.Unlock()
	if c == nil {
		return nil
	}
	closer()
	return c.Close()
}
