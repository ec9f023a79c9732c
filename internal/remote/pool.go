package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/berthsh/berth/inventory"
)

// Pool hands out one Executor per inventory host and shares one bastion connection between the hosts behind it.
// It is safe for concurrent use.
type Pool struct {
	inv  *inventory.Inventory
	opts PoolOptions

	mu    sync.Mutex
	execs map[string]*Executor
	jumps map[string]*Jump
}

// PoolOptions configure a Pool.
type PoolOptions struct {
	Logger      *slog.Logger
	OutputLimit int // see Config
	TailLimit   int // see Config
}

// NewPool returns a Pool for the hosts of inv. Nothing connects until an Executor is used.
func NewPool(inv *inventory.Inventory, opts PoolOptions) *Pool {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pool{inv: inv, opts: opts, execs: map[string]*Executor{}, jumps: map[string]*Jump{}}
}

// Get returns the Executor of the named host.
func (p *Pool) Get(name string) (*Executor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.execs[name]; ok {
		return e, nil
	}
	h := p.inv.Host(name)
	if h == nil {
		return nil, fmt.Errorf("host %s is not in the inventory", name)
	}
	t := p.inv.SSHFor(h)
	cfg := Config{Target: t, BaseDir: p.inv.Dir(), Logger: p.opts.Logger, OutputLimit: p.opts.OutputLimit,
		TailLimit: p.opts.TailLimit}
	if b := t.Bastion; b != nil {
		key := fmt.Sprintf("%s@%s:%d", b.User, b.Address, b.Port)
		j, ok := p.jumps[key]
		if !ok {
			var err error
			if j, err = NewJump(t, p.inv.Dir(), p.opts.Logger); err != nil {
				return nil, err
			}
			p.jumps[key] = j
		}
		cfg.Jump = j
	}
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	p.execs[name] = e
	return e, nil
}

// Close closes every connection the Pool opened.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	names := make([]string, 0, len(p.execs))
	for n := range p.execs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := p.execs[n].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", n, err))
		}
	}
	for _, j := range p.jumps {
		if err := j.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	p.execs, p.jumps = map[string]*Executor{}, map[string]*Jump{}
	return errors.Join(errs...)
}

// UploadJob is one file for one host.
type UploadJob struct {
	Exec    *Executor
	Src     string // local file
	Dst     string // absolute path on the host
	Options UploadOptions
}

// UploadAll runs the jobs with at most limit in flight (limit <= 0 means 4). Each distinct source is hashed once.
// Every job runs even when others fail; the error lists each failed host and file.
func UploadAll(ctx context.Context, jobs []UploadJob, limit int) ([]UploadResult, error) {
	if limit <= 0 {
		limit = 4
	}
	digests := map[string]string{}
	for i := range jobs {
		if jobs[i].Options.Digest != "" {
			continue
		}
		d, ok := digests[jobs[i].Src]
		if !ok {
			var err error
			if d, err = FileDigest(jobs[i].Src); err != nil {
				return nil, err
			}
			digests[jobs[i].Src] = d
		}
		jobs[i].Options.Digest = d
	}
	results := make([]UploadResult, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("upload %s to %s: %w", j.Dst, j.Exec.Host(), ctx.Err())
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = j.Exec.Upload(ctx, j.Src, j.Dst, j.Options)
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}
