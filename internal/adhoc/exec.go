package adhoc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Options configure an ad-hoc command.
type Options struct {
	Inventory   *inventory.Inventory
	Roles       []inventory.Role // select hosts carrying any of these roles
	Hosts       []string         // select these hosts
	Command     string           // shell command line
	NoSudo      bool             // run as the login user instead of root
	Concurrency int              // hosts at once; 0 means phase.DefaultConcurrency
	Timeout     time.Duration    // per host; 0 means none
	DryRun      bool             // only list where the command would run
	Output      io.Writer        // streamed output, "host | line"; nil captures it in the results instead
	Observers   []phase.Observer // runner events
	Logger      *slog.Logger
	Pool        *remote.Pool // connections to the inventory's hosts
}

// HostResult is the outcome on one host.
type HostResult struct {
	Host     string        `json:"host"`
	ExitCode int           `json:"exitCode"`
	Stdout   string        `json:"stdout,omitempty"` // only when Options.Output is nil
	Stderr   string        `json:"stderr,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Report is the outcome on every selected host, in inventory order.
type Report struct {
	Command string       `json:"command"`
	Results []HostResult `json:"results"`
	Failed  int          `json:"failed"`
	Plan    *phase.Plan  `json:"plan,omitempty"`
}

// Summary is one line: how many hosts succeeded and which failed.
func (r *Report) Summary() string {
	var failed []string
	for _, res := range r.Results {
		if res.Error != "" {
			why := fmt.Sprintf("exit %d", res.ExitCode)
			if res.ExitCode < 0 {
				why = firstLine(res.Error)
			}
			failed = append(failed, res.Host+": "+why)
		}
	}
	s := fmt.Sprintf("%d hosts: %d ok, %d failed", len(r.Results), len(r.Results)-len(failed), len(failed))
	if len(failed) > 0 {
		s += " (" + strings.Join(failed, "; ") + ")"
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Run runs the command on every selected host. The error is nil only when every host succeeded; the Report is
// returned in every case where hosts were selected.
func Run(ctx context.Context, o Options) (*Report, error) {
	if strings.TrimSpace(o.Command) == "" {
		return nil, errors.New("no command given")
	}
	hosts, err := SelectHosts(o.Inventory, o.Roles, o.Hosts)
	if err != nil {
		return nil, err
	}
	pool := o.Pool
	if pool == nil {
		return nil, errors.New("no connections to the hosts given (Options.Pool)")
	}
	p := &execPhase{opts: o, hosts: hosts, pool: pool, results: map[string]*HostResult{}}
	rep, runErr := phase.New(phase.Options{Action: "exec", Logger: o.Logger, Observers: o.Observers,
		DryRun: o.DryRun, Concurrency: o.Concurrency}, p).Run(ctx)
	out := &Report{Command: o.Command, Plan: rep.Plan}
	for _, h := range hosts {
		r := p.results[h]
		if r == nil {
			r = &HostResult{Host: h}
		}
		if r.Error != "" {
			out.Failed++
		}
		out.Results = append(out.Results, *r)
	}
	if runErr != nil {
		return out, runErr
	}
	return out, nil
}

// execPhase is the single phase of berth exec.
type execPhase struct {
	phase.Base
	opts  Options
	hosts []string
	pool  *remote.Pool

	mu      sync.Mutex
	out     sync.Mutex // shared by every host's prefixWriter
	results map[string]*HostResult
}

func (p *execPhase) Title() string { return "Run command" }
func (p *execPhase) Name() string  { return "exec" }

func (p *execPhase) Run(ctx context.Context) error {
	width := 0
	for _, h := range p.hosts {
		width = max(width, len(h))
	}
	return p.Each(ctx, p.hosts, func(ctx context.Context, host string) error {
		res := &HostResult{Host: host}
		p.mu.Lock()
		p.results[host] = res
		p.mu.Unlock()
		err := p.Wet(host, "run `"+p.opts.Command+"`", func() error { return p.runOn(ctx, host, width, res) })
		if err != nil {
			res.Error = err.Error()
		}
		return err
	})
}

func (p *execPhase) runOn(ctx context.Context, host string, width int, res *HostResult) error {
	e, err := p.pool.Get(host)
	if err != nil {
		res.ExitCode = -1
		return err
	}
	if p.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Timeout)
		defer cancel()
	}
	cmd := remote.Cmd{Command: p.opts.Command, NoSudo: p.opts.NoSudo}
	var so, se *prefixWriter
	if p.opts.Output != nil {
		prefix := []byte(fmt.Sprintf("%-*s | ", width, host))
		so = &prefixWriter{mu: &p.out, out: p.opts.Output, prefix: prefix}
		se = &prefixWriter{mu: &p.out, out: p.opts.Output, prefix: prefix}
		cmd.Stdout, cmd.Stderr = so, se
	}
	start := time.Now()
	r, err := e.Run(ctx, cmd)
	if so != nil {
		so.Flush()
		se.Flush()
	} else {
		res.Stdout, res.Stderr = r.Stdout, r.Stderr
	}
	res.ExitCode, res.Duration = r.ExitCode, time.Since(start)
	var re *remote.RunError
	if errors.As(err, &re) && re.Err == nil && p.opts.Output != nil {
		// The output was streamed already: say only how it ended.
		return fmt.Errorf("exit status %d", re.ExitCode)
	}
	return err
}
