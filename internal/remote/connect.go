package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// dialFunc opens the transport to addr: a TCP connection, or a channel through a bastion.
type dialFunc func(ctx context.Context, addr string) (net.Conn, error)

func directDial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// login describes one SSH login: where, as whom, how it authenticates and which host keys it trusts.
type login struct {
	name    string // inventory host name, for messages
	address string // host:port
	creds   credentials
	policy  *hostKeyPolicy
	timeout time.Duration
}

func joinHostPort(host string, port int) string {
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// open dials and authenticates. The closer returned releases resources held for the connection's life (the agent).
func (l login) open(ctx context.Context, dial dialFunc) (*ssh.Client, func(), error) {
	auth, closeAuth, err := l.creds.authMethods()
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", l.name, err)
	}
	cb, algos, err := l.policy.callback(l.address)
	if err != nil {
		closeAuth()
		return nil, nil, fmt.Errorf("connect to %s: %w", l.name, err)
	}
	timeout := l.timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	cfg := &ssh.ClientConfig{User: l.creds.user, Auth: auth, HostKeyCallback: cb, Timeout: timeout,
		ClientVersion: "SSH-2.0-berth"}

	// A host offers one key per handshake. With known_hosts the recorded types are asked for; a pinned fingerprint
	// does not say its type, so each key type is tried in turn until one matches.
	groups := [][]string{algos}
	if len(l.policy.pins) > 0 {
		groups = l.policy.pinGroups()
	}
	var mismatch *HostKeyError
	for _, g := range groups {
		cfg.HostKeyAlgorithms = g
		c, err := l.handshake(ctx, dial, cfg, timeout)
		if err == nil {
			l.policy.remember(g)
			return c, closeAuth, nil
		}
		var he *HostKeyError
		switch {
		case errors.As(err, &he) && he.Pinned:
			if mismatch == nil {
				mismatch = he
			} else {
				mismatch.Others = append(mismatch.Others, he.KeyType+" "+he.Offered)
			}
			continue
		case len(groups) > 1 && strings.Contains(err.Error(), "no common algorithm for host key"):
			continue
		}
		closeAuth()
		return nil, nil, err
	}
	closeAuth()
	if mismatch != nil {
		return nil, nil, mismatch
	}
	return nil, nil, fmt.Errorf("connect to %s (%s): the host offers no key of a type berth verifies", l.name, l.address)
}

// handshake opens the transport and runs the SSH handshake and authentication.
func (l login) handshake(ctx context.Context, dial dialFunc, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(dctx, l.address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", l.name, l.address, err)
	}
	// The handshake has no context of its own: a deadline bounds it and a watcher closes it on cancellation.
	_ = conn.SetDeadline(time.Now().Add(timeout))
	done := make(chan struct{})
	go func() {
		select {
		case <-dctx.Done():
			conn.Close()
		case <-done:
		}
	}()
	c, chans, reqs, err := ssh.NewClientConn(conn, l.address, cfg)
	close(done)
	if err != nil {
		conn.Close()
		var he *HostKeyError
		switch {
		case errors.As(err, &he):
			return nil, he
		case ctx.Err() != nil:
			return nil, fmt.Errorf("connect to %s (%s): %w", l.name, l.address, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("log in to %s (%s) as %s: %w; check that the key (or password) is accepted for %s on the host (~%s/.ssh/authorized_keys)",
				l.name, l.address, l.creds.user, err, l.creds.user, l.creds.user)
		}
		return nil, fmt.Errorf("connect to %s (%s): %w", l.name, l.address, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// keepalive sends keepalive@openssh.com requests and closes the client when the peer stops answering, so a dead
// connection is noticed (and replaced on the next command) instead of hanging. dead, if set, learns why.
func keepalive(c *ssh.Client, every time.Duration, log *slog.Logger, host string, dead func(reason string)) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	gone := make(chan struct{})
	go func() { c.Wait(); close(gone) }()
	kill := func(reason string) {
		if dead != nil {
			dead(reason)
		}
		c.Close()
	}
	for {
		select {
		case <-gone:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		wait := max(3*every, 5*time.Second) // like OpenSSH's ServerAliveCountMax 3
		select {
		case <-gone:
			return
		case err := <-answered:
			if err != nil {
				log.Debug("ssh keepalive failed", "host", host, "err", err)
				kill("keepalive failed: " + err.Error())
				return
			}
		case <-time.After(wait):
			log.Warn("ssh connection stopped answering keepalives, closing it", "host", host, "after", wait)
			kill(fmt.Sprintf("no answer to keepalives for %s", wait))
			return
		}
	}
}
