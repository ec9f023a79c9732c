package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Options configure an install.
type Options struct {
	Inventory      *inventory.Inventory // loaded and validated
	InventoryBytes []byte               // the file as read, for the journal's digest
	Bundle         *bundles.Bundle      // opened and verified
	StateDir       string               // base of the state directories; "" for the default
	CacheDir       string               // where bundle content is extracted locally; "" for ~/.cache/berth/staging
	DryRun         bool                 // print the plan, change nothing
	Skip           []string             // phases not to run (--skip-phases)
	Only           []string             // run only these phases (berth install phase NAME)
	Restart        bool                 // forget the journal's progress and check every phase again
	Observers      []phase.Observer     // progress events (text reporter, TUI)
	Logger         *slog.Logger
	Concurrency    int    // hosts at once within a phase; 0 for the default
	Command        string // the command line, recorded in the lock
}

// Result is what an install did.
type Result struct {
	Report     *phase.Report
	StateDir   string // the cluster's state directory
	Kubeconfig string // the admin kubeconfig berth wrote (0600)
}

// phases returns the install's phases in order.
func phases(c *Cluster) []phase.Phase {
	return []phase.Phase{
		&connect{c: c},
		&readFacts{c: c},
		c.preflight,
		&stageBundle{c: c},
		&prepareOS{c: c},
		&setupRuntime{c: c},
		&importImages{c: c},
		&setupLoadBalancer{c: c},
		&initCluster{c: c},
		&prepareJoins{c: c},
		&joinControlPlanes{c: c},
		&joinWorkers{c: c},
		&installCNI{c: c},
		&installDNS{c: c},
		&settleNodes{c: c},
		&writeKubeconfig{c: c},
	}
}

// PhaseNames lists the install's phases by name, for --skip-phases and `berth install phase`.
func PhaseNames() []string {
	c := &Cluster{preflight: &preflight.Phase{}}
	var out []string
	for _, p := range phases(c) {
		out = append(out, phase.Name(p))
	}
	return out
}

// Install runs the install. The cluster's lock is held for the whole run (dry runs need none).
func Install(ctx context.Context, o Options) (*Result, error) {
	inv := o.Inventory
	if inv == nil || o.Bundle == nil {
		return nil, errors.New("install needs an inventory and a bundle")
	}
	if len(inv.ControlPlanes()) == 0 {
		return nil, errors.New("the inventory has no control plane")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory: %w", err)
		}
		cacheDir = filepath.Join(base, "berth", "staging")
	}

	var journal *phase.Journal
	var dir string
	if o.DryRun {
		var err error
		if dir, err = phase.StateDir(o.StateDir, inv.Metadata.Name); err != nil {
			return nil, err
		}
		if journal, err = phase.OpenJournal(phase.JournalPath(dir, "install")); err != nil {
			return nil, err
		}
	} else {
		st, err := phase.OpenState(o.StateDir, inv.Metadata.Name, "install", phase.LockOptions{Command: o.Command})
		if err != nil {
			return nil, err
		}
		defer st.Close()
		if st.Lock.TookOver != "" {
			log.Warn(st.Lock.TookOver)
		}
		dir, journal = st.Dir, st.Journal
	}
	inputs := []phase.Input{inventoryInput(inv, o.InventoryBytes), {Name: "bundle", Digest: o.Bundle.ManifestDigest}}
	if o.Restart && !o.DryRun {
		if err := journal.Reset("install", inputs); err != nil {
			return nil, err
		}
	}

	pool := remote.NewPool(inv, remote.PoolOptions{Logger: log})
	defer pool.Close()
	c := &Cluster{Inv: inv, Bundle: o.Bundle, Pool: pool, Log: log, CacheDir: cacheDir, StateDir: dir}
	c.preflight = &preflight.Phase{Options: preflight.Options{Inventory: inv, Hosts: names(inv.Nodes()), Logger: log, Arch: o.Bundle.Manifest.Target.Arch,
		Connect: func(h string) (preflight.Host, error) { return pool.Get(h) }}}

	r := phase.New(phase.Options{Action: "install", Logger: log, Observers: o.Observers, DryRun: o.DryRun,
		Concurrency: o.Concurrency, Skip: o.Skip, Only: o.Only, Journal: journal, Inputs: inputs,
		OnChange: phase.RestartOnChange}, phases(c)...)
	rep, err := r.Run(ctx)
	res := &Result{Report: rep, StateDir: dir}
	if !o.DryRun {
		if _, serr := os.Stat(filepath.Join(dir, KubeconfigFile)); serr == nil {
			res.Kubeconfig = filepath.Join(dir, KubeconfigFile)
		}
	}
	return res, err
}

// inventoryInput describes the inventory for the journal, with one part per host so that a changed host is named.
func inventoryInput(inv *inventory.Inventory, raw []byte) phase.Input {
	parts := map[string][]byte{}
	for i := range inv.Hosts {
		h := inv.Hosts[i]
		b, err := json.Marshal(h)
		if err == nil {
			parts["host "+h.Name] = b
		}
	}
	return phase.NewInput("inventory", raw, parts)
}
