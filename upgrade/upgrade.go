package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// DefaultDrainTimeout bounds how long a node's drain waits for its pods to go (PodDisruptionBudgets included).
const DefaultDrainTimeout = 5 * time.Minute

// Options configure a plan or an apply.
type Options struct {
	Inventory       *inventory.Inventory // loaded and validated
	InventoryBytes  []byte               // the file as read, for the journal's digest
	Bundles         []*bundles.Bundle    // opened and verified: the target's, and one per intermediate minor
	StateDir        string               // base of the state directories; "" for the default
	CacheDir        string               // where bundle content is extracted locally; "" for the default
	DryRun          bool                 // apply: print the plan of changes, change nothing
	MaxUnavailable  string               // workers upgraded at once: "1" (default), "2", "25%"
	DisableEviction bool                 // drain by deleting pods instead of evicting them: PodDisruptionBudgets are not honoured
	DrainTimeout    time.Duration        // bounded wait of one node's drain; 0 means DefaultDrainTimeout
	Observers       []phase.Observer
	Logger          *slog.Logger
	Concurrency     int          // hosts at once within a phase (staging); 0 for the default
	Command         string       // the command line, recorded in the lock
	Pool            *remote.Pool // host connections; nil connects to the inventory's hosts over SSH
}

// Result is what an apply did.
type Result struct {
	Plan     *Plan         `json:"plan"`
	Report   *phase.Report `json:"report"`
	StateDir string        `json:"stateDir"`
	Snapshot string        `json:"snapshot,omitempty"` // the etcd snapshot taken before the first change
}

// run is what the phases of one plan or apply share.
type run struct {
	o        Options
	c        *installer.Cluster
	planOnly bool // berth upgrade plan: problems are reported, not an error
	batch    int  // workers per batch

	plan     *Plan
	path     *Path
	snapshot string
}

func (o Options) check() error {
	if o.Inventory == nil || len(o.Bundles) == 0 {
		return errors.New("an upgrade needs an inventory and a bundle")
	}
	if len(o.Inventory.ControlPlanes()) == 0 {
		return errors.New("the inventory has no control plane")
	}
	return nil
}

// target returns the bundle of the newest Kubernetes version: the one every node ends on.
func (o Options) target() *bundles.Bundle {
	best := o.Bundles[0]
	bv, _ := ParseVersion(best.Manifest.KubernetesVersion)
	for _, b := range o.Bundles[1:] {
		if v, err := ParseVersion(b.Manifest.KubernetesVersion); err == nil && v.Compare(bv) > 0 {
			best, bv = b, v
		}
	}
	return best
}

// BatchSize turns --max-unavailable ("2", "25%") into how many of n workers are upgraded at once: at least one.
func BatchSize(maxUnavailable string, n int) (int, error) {
	s := strings.TrimSpace(maxUnavailable)
	if s == "" {
		return 1, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 0 || v > 100 {
			return 0, fmt.Errorf("--max-unavailable %q: a percentage is 1%% to 100%%", maxUnavailable)
		}
		return max(1, n*v/100), nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--max-unavailable %q: give a number of workers (1, 2, ...) or a percentage (25%%)", maxUnavailable)
	}
	return v, nil
}

// open opens the action and the shared state of a plan (dry run, no lock) or an apply.
func open(o Options, planOnly bool) (*action.Action, *run, error) {
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	batch, err := BatchSize(o.MaxUnavailable, len(o.Inventory.Workers()))
	if err != nil {
		return nil, nil, err
	}
	if err := installer.CheckStorageImages(o.Inventory, o.target().Manifest); err != nil {
		return nil, nil, err
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		if cacheDir, err = installer.DefaultCacheDir(); err != nil {
			return nil, nil, err
		}
	}
	inputs := []phase.Input{installer.InventoryInput(o.Inventory, o.InventoryBytes)}
	for i, b := range o.Bundles {
		inputs = append(inputs, phase.Input{Name: fmt.Sprintf("bundle %d", i+1), Digest: b.ManifestDigest})
	}
	a, err := action.Open(action.Options{Action: "upgrade", Inventory: o.Inventory, StateDir: o.StateDir, Journal: true,
		Inputs: inputs, OnChange: phase.RestartOnChange, DryRun: o.DryRun || planOnly, Concurrency: o.Concurrency,
		Observers: o.Observers, Logger: o.Logger, Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, nil, err
	}
	c := installer.NewCluster(a, o.Inventory, o.target(), cacheDir)
	return a, &run{o: o, c: c, planOnly: planOnly, batch: batch}, nil
}

// readPhases are the phases that read the hosts and the cluster and check them: a plan is exactly these.
func (r *run) readPhases() []phase.Phase {
	return []phase.Phase{&installer.Connect{C: r.c}, &installer.Facts{C: r.c}, r.c.Preflight(), &check{r: r}}
}

// phases are the apply's phases, in order.
func (r *run) phases() []phase.Phase {
	content := r.c.Content()
	hops := r.hopContents()
	ps := append(r.readPhases(), &snapshot{r: r}, &airgap.Stage{Content: content}, &airgap.Images{Content: content},
		installer.Registries(r.c, content, hops...), installer.RegistryMirrors(r.c))
	for _, hop := range hops {
		ps = append(ps, phase.Group("Stage the bundle of Kubernetes "+hop.Bundle.Manifest.KubernetesVersion+" on the control planes",
			&airgap.Stage{Content: hop}, &airgap.Images{Content: hop}))
	}
	return append(ps,
		&controlPlanes{r: r},
		installer.CNI(r.c),
		installer.DNS(r.c),
		installer.DNSCache(r.c),
		installer.Storage(r.c),
		&workers{r: r},
	)
}

// hopContents are the bundles of the minors on the way, each for the control planes, which step through them.
func (r *run) hopContents() []*airgap.Content {
	content, target := r.c.Content(), r.o.target()
	var out []*airgap.Content
	for _, b := range r.o.Bundles {
		if b == target {
			continue
		}
		hop := &airgap.Content{Bundle: b, CacheDir: content.CacheDir, Host: content.Host, Relays: content.Relays, Pulled: content.Pulled}
		for _, n := range content.Nodes {
			if n.ControlPlane {
				hop.Nodes = append(hop.Nodes, n)
			}
		}
		out = append(out, hop)
	}
	return out
}

// PlanUpgrade reads the hosts and the cluster, changes nothing, and returns what an apply would do and every check's
// outcome. Problems are in the plan; the error is for a plan that could not be made at all.
func PlanUpgrade(ctx context.Context, o Options) (*Plan, error) {
	a, r, err := open(o, true)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if _, err := a.Run(ctx, r.readPhases()...); err != nil && r.plan == nil {
		return nil, err
	}
	return r.plan, nil
}

// Apply upgrades the cluster: every check first (any problem stops it before a host is touched), then the etcd
// snapshot, staging, the control planes one at a time, the add-ons and the workers in batches. It holds the
// cluster's lock; the journal lets a stopped run resume.
func Apply(ctx context.Context, o Options) (*Result, error) {
	a, r, err := open(o, false)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	rep, err := a.Run(ctx, r.phases()...)
	return &Result{Plan: r.plan, Report: rep, StateDir: a.Dir, Snapshot: r.snapshot}, err
}
