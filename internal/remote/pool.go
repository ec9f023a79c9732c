package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"sync"
)

// Host is one host as actions use it: commands, batches of files, and TCP connections opened from it. *Executor is
// the SSH implementation; tests of pure logic use an in-memory one (remotetest).
type Host interface {
	Host() string // the host's name
	Sudo() bool   // commands run through sudo
	Connect(ctx context.Context) error
	Run(ctx context.Context, c Cmd) (Result, error)
	Exec(ctx context.Context, command string) (string, error)
	ReadFile(ctx context.Context, path string) ([]byte, error)
	WriteFile(ctx context.Context, dst string, data []byte, mode fs.FileMode) (UploadResult, error)
	PutFiles(ctx context.Context, files []File, progress func(sent, total int64)) ([]UploadResult, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

var _ Host = (*Executor)(nil)

// Lookup returns the Target of a named host, or an error naming what is wrong with it.
type Lookup func(name string) (Target, error)

// Pool hands out one Host per name and shares one bastion connection between the hosts behind the same bastion.
// It is safe for concurrent use.
type Pool struct {
	lookup Lookup
	opts   PoolOptions

	mu    sync.Mutex
	hosts map[string]Host
	jumps map[string]*Jump
}

// PoolOptions configure a Pool.
type PoolOptions struct {
	Logger      *slog.Logger
	OutputLimit int // see Config
	TailLimit   int // see Config
	// Open makes the Host of a target instead of an SSH Executor: in-memory hosts for tests of pure logic.
	Open func(Target) (Host, error)
}

// NewPool returns a Pool of the hosts lookup knows. Nothing connects until a Host is used.
func NewPool(lookup Lookup, opts PoolOptions) *Pool {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pool{lookup: lookup, opts: opts, hosts: map[string]Host{}, jumps: map[string]*Jump{}}
}

// Get returns the Host of the named host.
func (p *Pool) Get(name string) (Host, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.hosts[name]; ok {
		return h, nil
	}
	t, err := p.lookup(name)
	if err != nil {
		return nil, err
	}
	if p.opts.Open != nil {
		h, err := p.opts.Open(t)
		if err != nil {
			return nil, err
		}
		p.hosts[name] = h
		return h, nil
	}
	cfg, err := p.config(t)
	if err != nil {
		return nil, err
	}
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	p.hosts[name] = e
	return e, nil
}

// config returns the Executor configuration of a target, with the bastion connection it shares. p.mu is held.
func (p *Pool) config(t Target) (Config, error) {
	cfg := Config{Target: t, Logger: p.opts.Logger, OutputLimit: p.opts.OutputLimit, TailLimit: p.opts.TailLimit}
	if b := t.Bastion; b != nil {
		key := fmt.Sprintf("%s@%s:%d %q", b.User, b.Address, b.Port, b.IdentityFiles)
		j, ok := p.jumps[key]
		if !ok {
			var err error
			if j, err = NewJump(*b, p.opts.Logger); err != nil {
				return Config{}, err
			}
			p.jumps[key] = j
		}
		cfg.Jump = j
	}
	return cfg, nil
}

// LoginAgain opens a new SSH connection to the host, beside the pooled one, runs a command on it and closes it. It
// shows that a new login still works after a change that could block one (a host firewall), which the pooled
// connection, already established, cannot show.
func (p *Pool) LoginAgain(ctx context.Context, name string) error {
	p.mu.Lock()
	if p.opts.Open != nil {
		p.mu.Unlock()
		return fmt.Errorf("host %s: this pool opens no SSH connections of its own", name)
	}
	t, err := p.lookup(name)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	cfg, err := p.config(t)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	e, err := New(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	_, err = e.Run(ctx, Cmd{Command: "true", NoSudo: true})
	return err
}

// Close closes every connection the Pool opened.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	names := make([]string, 0, len(p.hosts))
	for n := range p.hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c, ok := p.hosts[n].(interface{ Close() error })
		if !ok {
			continue
		}
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", n, err))
		}
	}
	for _, j := range p.jumps {
		if err := j.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	p.hosts, p.jumps = map[string]Host{}, map[string]*Jump{}
	return errors.Join(errs...)
}
