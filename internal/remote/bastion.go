package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"time"

	"golang.org/x/crypto/ssh"
)

// Jump is an SSH connection to a bastion (jump host) through which connections to the hosts are opened, the way
// `ssh -J` does: each host's SSH session is tunnelled in a direct-tcpip channel of the bastion's connection, and
// authenticated and host-key checked end to end. One Jump can serve every host behind the same bastion.
type Jump struct {
	login     login
	keepalive time.Duration
	log       *slog.Logger

	mu     sync.Mutex
	client *ssh.Client
	closer func()
}

// NewJump prepares (without connecting) the connection to the jump host b. Its Host names it in messages.
func NewJump(b Target, log *slog.Logger) (*Jump, error) {
	if b.Address == "" {
		return nil, fmt.Errorf("bastion %s has no address", b.Host)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := b.Host
	if name == "" {
		name = "bastion " + b.Address
	}
	at := b.HostKeysAt
	if at == "" {
		at = "ssh.bastion.hostKey"
	}
	policy, err := newHostKeyPolicy(name, b.KnownHosts, b.HostKeys, at)
	if err != nil {
		return nil, err
	}
	return &Jump{
		login: login{name: name, address: joinHostPort(b.Address, b.Port),
			creds:  credentials{user: b.User, identityFiles: b.IdentityFiles, agent: b.Agent, password: b.Password},
			policy: policy, timeout: b.Timeout},
		keepalive: b.Keepalive,
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
	go keepalive(c, j.keepalive, j.log, j.login.name, nil)
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
