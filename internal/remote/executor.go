package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

// Default limits of captured output.
const (
	DefaultOutputLimit = 16 << 20 // stdout bytes a command may return to its caller
	DefaultTailLimit   = 4 << 10  // bytes of combined output kept for error messages
)

// Config configures an Executor.
type Config struct {
	Target      Target       // where the host is and how to log in
	Logger      *slog.Logger // debug logs of commands (never their secrets); nil discards
	Jump        *Jump        // shared bastion connection; nil dials Target.Bastion itself when it is set
	OutputLimit int          // stdout bytes captured per command; 0 means DefaultOutputLimit
	TailLimit   int          // output bytes kept for errors; 0 means DefaultTailLimit
}

// Stats counts what an Executor did, for tests, benchmarks and reports.
type Stats struct {
	Connects      int64 // SSH connections opened (1 while the connection is reused)
	Commands      int64 // remote commands run
	BytesUploaded int64 // file bytes sent by PutFiles
}

// Executor runs commands on one host over a single reused SSH connection, writes batches of files through it and
// opens TCP connections from the host. It is safe for concurrent use.
type Executor struct {
	cfg  Config
	log  *slog.Logger
	host login

	mu        sync.Mutex
	client    *ssh.Client
	closeAuth func()
	ownJump   *Jump
	closed    bool
	connects  atomic.Int64
	commands  atomic.Int64
	uploaded  atomic.Int64
	lost      atomic.Value // string: why berth closed the last connection (keepalive), for error messages

	sudoMu   sync.Mutex
	sudoPass string // the sudo password, read when the first command needs it
	sudoOK   bool   // sudo accepted the password (or needs none)
	sudoErr  error  // sudo refused the password: no command tries it again
}

// New prepares an Executor for cfg.Target; it connects on first use (or with Connect).
func New(cfg Config) (*Executor, error) {
	t := cfg.Target
	if t.Address == "" {
		return nil, fmt.Errorf("host %s has no address", t.Host)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = DefaultOutputLimit
	}
	if cfg.TailLimit <= 0 {
		cfg.TailLimit = DefaultTailLimit
	}
	at := t.HostKeysAt
	if at == "" {
		at = fmt.Sprintf("hosts[%s].ssh.hostKeys", t.Host)
	}
	policy, err := newHostKeyPolicy(t.Host, t.KnownHosts, t.HostKeys, at)
	if err != nil {
		return nil, err
	}
	e := &Executor{cfg: cfg, log: cfg.Logger.With("host", t.Host),
		host: login{name: t.Host, address: joinHostPort(t.Address, t.Port), policy: policy, timeout: t.Timeout,
			creds: credentials{user: t.User, identityFiles: t.IdentityFiles, agent: t.Agent, password: t.Password}}}
	if t.Bastion != nil && cfg.Jump == nil {
		j, err := NewJump(*t.Bastion, cfg.Logger)
		if err != nil {
			return nil, err
		}
		e.ownJump = j
		e.cfg.Jump = j
	}
	return e, nil
}

// Host returns the name of the host.
func (e *Executor) Host() string { return e.cfg.Target.Host }

// Target returns the SSH settings the Executor uses.
func (e *Executor) Target() Target { return e.cfg.Target }

// Sudo reports whether commands run through sudo.
func (e *Executor) Sudo() bool { return e.cfg.Target.Sudo }

// Stats returns counters of what the Executor did so far.
func (e *Executor) Stats() Stats {
	return Stats{Connects: e.connects.Load(), Commands: e.commands.Load(), BytesUploaded: e.uploaded.Load()}
}

// Connect opens the SSH connection now (it is otherwise opened by the first command), so that unreachable hosts,
// bad credentials and unknown host keys show up before any work starts.
func (e *Executor) Connect(ctx context.Context) error {
	_, err := e.conn(ctx)
	return err
}

// conn returns the live connection, opening one if there is none (the first time, or after the old one died).
func (e *Executor) conn(ctx context.Context) (*ssh.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("host %s: executor is closed", e.Host())
	}
	if e.client != nil {
		return e.client, nil
	}
	dial := directDial
	if e.cfg.Jump != nil {
		dial = e.cfg.Jump.DialContext
	}
	c, closeAuth, err := e.host.open(ctx, dial)
	if err != nil {
		return nil, err
	}
	e.client, e.closeAuth = c, closeAuth
	e.lost.Store("")
	e.connects.Add(1)
	via := ""
	if e.cfg.Jump != nil {
		via = e.cfg.Jump.Address()
	}
	e.log.Debug("ssh connected", "address", e.host.address, "user", e.host.creds.user, "sudo", e.Sudo(), "via", via)
	go keepalive(c, e.cfg.Target.Keepalive, e.log, e.Host(), func(reason string) { e.lost.Store(reason) })
	go func() {
		c.Wait()
		e.mu.Lock()
		e.dropLocked(c)
		e.mu.Unlock()
	}()
	return c, nil
}

// dropLocked forgets connection c if it is still the current one.
func (e *Executor) dropLocked(c *ssh.Client) {
	if e.client != c || c == nil {
		return
	}
	e.closeAuth()
	e.client, e.closeAuth = nil, nil
}

// Close closes the connection (and a bastion connection the Executor opened itself). Commands still running fail.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	c := e.client
	var err error
	if c != nil {
		e.dropLocked(c)
		err = c.Close()
	}
	e.mu.Unlock()
	if e.ownJump != nil {
		err = errors.Join(err, e.ownJump.Close())
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// lostReason says why berth closed the current connection, or "".
func (e *Executor) lostReason() string {
	s, _ := e.lost.Load().(string)
	return s
}
