package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// Options configure a preflight run.
type Options struct {
	Inventory *inventory.Inventory
	Hosts     []string                        // hosts to check; empty means every host
	Connect   func(host string) (Host, error) // returns the executor of a host (remote.Pool.Get)
	Limits    Limits                          // thresholds; zero fields take defaults
	Installed bool                            // ports held by the component berth runs there pass (re-runs)
	Arch      string                          // the bundle's target architecture (amd64, arm64); "" checks none
	Logger    *slog.Logger
	Session   *phase.Session // events and fan-out when run as a phase; nil works
}

// Limits are the thresholds the checks apply.
type Limits struct {
	ControlPlaneCPUs   int               // default 2 (kubeadm's minimum)
	ControlPlaneMemory int64             // bytes; default 1700 MiB (kubeadm's minimum)
	WorkerCPUs         int               // default 1
	WorkerMemory       int64             // bytes; default 1 GiB
	DiskFree           int64             // bytes free under /var/lib; default 10 GiB
	MaxClockSkew       time.Duration     // between any two hosts; default 2 s
	WarnClockSkew      time.Duration     // default 500 ms
	MinKernel          string            // default 4.19
	OS                 map[string]string // supported OS ID -> VERSION_ID; default debian 12 (the bundle's packages)
}

func (l Limits) withDefaults() Limits {
	set := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	if l.ControlPlaneCPUs == 0 {
		l.ControlPlaneCPUs = 2
	}
	if l.WorkerCPUs == 0 {
		l.WorkerCPUs = 1
	}
	set(&l.ControlPlaneMemory, 1700<<20)
	set(&l.WorkerMemory, 1<<30)
	set(&l.DiskFree, 10<<30)
	if l.MaxClockSkew == 0 {
		l.MaxClockSkew = 2 * time.Second
	}
	if l.WarnClockSkew == 0 {
		l.WarnClockSkew = 500 * time.Millisecond
	}
	if l.MinKernel == "" {
		l.MinKernel = "4.19"
	}
	if l.OS == nil {
		l.OS = map[string]string{"debian": "12"}
	}
	return l
}

// Checker runs the preflight checks.
type Checker struct {
	opts Options
}

// New returns a Checker.
func New(opts Options) *Checker {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Limits = opts.Limits.withDefaults()
	return &Checker{opts: opts}
}

// Run reads every host's facts in parallel and checks them. It changes nothing on any host. The error is only for
// a preflight that could not run at all (bad options); failed checks are in the Report.
func (c *Checker) Run(ctx context.Context) (*Report, error) {
	inv := c.opts.Inventory
	if inv == nil || c.opts.Connect == nil {
		return nil, errors.New("preflight: an inventory and a way to connect are required")
	}
	names := c.opts.Hosts
	if len(names) == 0 {
		for _, h := range inv.Hosts {
			names = append(names, h.Name)
		}
	}
	rep := &Report{Hosts: names, order: map[string]int{"": -1}}
	for i, n := range names {
		if inv.Host(n) == nil {
			return nil, fmt.Errorf("preflight: host %s is not in the inventory", n)
		}
		rep.order[n] = i
	}
	var mu sync.Mutex
	facts := map[string]*Facts{}
	_ = c.opts.Session.Each(ctx, names, func(ctx context.Context, name string) error {
		h, err := c.opts.Connect(name)
		var f *Facts
		if err == nil {
			f, err = Gather(ctx, h)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			rep.add(Result{Host: name, Check: "ssh", Status: Fail, Detail: err.Error(),
				Fix: "make the host reachable over SSH with the inventory's address, user, key and known host key"})
			return err
		}
		facts[name] = f
		return nil
	})
	in := &input{inv: inv, limits: c.opts.Limits, facts: facts, installed: c.opts.Installed, arch: c.opts.Arch}
	for _, n := range names {
		f := facts[n]
		if f == nil {
			continue
		}
		rep.Facts = append(rep.Facts, f)
		h := inv.Host(n)
		for _, chk := range hostChecksFor(h) {
			rep.add(chk(in, h, f)...)
		}
	}
	for _, chk := range clusterChecks() {
		rep.add(chk(in)...)
	}
	rep.finish()
	return rep, nil
}

// input is what checks look at.
type input struct {
	inv       *inventory.Inventory
	limits    Limits
	facts     map[string]*Facts // facts of every host that answered
	installed bool
	arch      string // the bundle's target architecture, "" when there is no bundle to compare with
}

// hostChecks look at one host. Each lives in its own check_*.go file.
func hostChecks() []func(*input, *inventory.Host, *Facts) []Result {
	return []func(*input, *inventory.Host, *Facts) []Result{
		checkSudo, checkArch, checkOS, checkResources, checkSwap, checkCgroup, checkKernelFeatures, checkNICs, checkPorts, checkListeners,
	}
}

// hostChecksFor returns the checks of one host. A host that is not a Kubernetes node (only the registry or
// storage role) gets no Kubernetes checks (kernel, cgroups, swap, sizes, the bundle's architecture): berth joins it
// to nothing. Its sudo, its NICs and the ports its roles need are checked.
func hostChecksFor(h *inventory.Host) []func(*input, *inventory.Host, *Facts) []Result {
	if h.IsNode() {
		return hostChecks()
	}
	return []func(*input, *inventory.Host, *Facts) []Result{checkSudo, checkNICs, checkPorts, checkListeners}
}

// clusterChecks compare hosts with each other.
func clusterChecks() []func(*input) []Result {
	return []func(*input) []Result{checkHostnames, checkClock}
}
