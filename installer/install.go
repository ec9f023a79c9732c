package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/action"
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
	Concurrency    int          // hosts at once within a phase; 0 for the default
	Command        string       // the command line, recorded in the lock
	Pool           *remote.Pool // host connections; nil connects to the inventory's hosts over SSH
}

// Result is what an install did.
type Result struct {
	Report     *phase.Report
	StateDir   string // the cluster's state directory
	Kubeconfig string // the admin kubeconfig berth wrote (0600)
}

// phases returns the install's phases in order: the shared phases that read the hosts and move the bundle's
// content, then the install's own.
func phases(c *Cluster) []phase.Phase {
	content := c.Content()
	return []phase.Phase{
		&Connect{C: c},
		&Facts{C: c},
		c.preflight,
		&airgap.Stage{Content: content},
		&prepareOS{c: c},
		&setupFirewall{c: c},
		&setupRuntime{c: c},
		&airgap.Images{Content: content},
		&setupRegistries{c: c, content: content},
		&registryMirrors{c: c},
		&setupLoadBalancer{c: c},
		&initCluster{c: c},
		&prepareJoins{c: c},
		&joinControlPlanes{c: c},
		&joinWorkers{c: c},
		CNI(c),
		&installDNS{c: c},
		&dnsCache{c: c},
		Storage(c),
		&settleNodes{c: c},
		&writeKubeconfig{c: c},
	}
}

// CNI returns the phase that applies the pod network from the cluster's bundle: the install's, and the upgrade's
// add-on step (a changed image rolls the DaemonSet).
func CNI(c *Cluster) phase.Phase {
	return &installCNI{addOn{c: c, what: "apply the flannel manifests"}}
}

// Registries returns the phase that runs the inventory's registries and fills the System registry with the
// bundle's images (the upgrade's too: every System replica serves the new images, and those of the bundles of the
// minors the control planes step through, hops, before any node moves).
func Registries(c *Cluster, content *airgap.Content, hops ...*airgap.Content) phase.Phase {
	return &setupRegistries{c: c, content: content, hops: hops}
}

// RegistryMirrors returns the phase that writes every node's containerd mirror configuration for the registries.
func RegistryMirrors(c *Cluster) phase.Phase { return &registryMirrors{c: c} }

// DNS returns the phase that installs or upgrades cluster DNS from the cluster's bundle and waits until it answers.
func DNS(c *Cluster) phase.Phase { return &installDNS{c: c} }

// PhaseNames lists the install's phases by name, for --skip-phases and `berth install phase`.
func PhaseNames() []string {
	c := &Cluster{Inv: &inventory.Inventory{}, preflight: &preflight.Phase{}}
	var out []string
	for _, p := range phases(c) {
		out = append(out, phase.Name(p))
	}
	return out
}

// DefaultCacheDir is where bundle content is extracted on this machine unless told otherwise.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w", err)
	}
	return filepath.Join(base, "berth", "staging"), nil
}

// NewCluster returns the shared state of one action on the cluster an inventory describes, over the action's
// connections. b may be nil for actions that need no bundle.
func NewCluster(a *action.Action, inv *inventory.Inventory, b *bundles.Bundle, cacheDir string) *Cluster {
	c := &Cluster{Inv: inv, Bundle: b, Pool: a.Pool, Log: a.Log, CacheDir: cacheDir, StateDir: a.Dir}
	NewPreflight(c, names(inv.Nodes()))
	return c
}

// NewPreflight makes the preflight phase of an action over the given hosts, connected through the cluster's pool;
// the cluster reads the OS facts of its hosts from that phase's report (Preflight returns it).
func NewPreflight(c *Cluster, hosts []string) *preflight.Phase {
	o := preflight.Options{Inventory: c.Inv, Hosts: hosts, Logger: c.Log,
		Connect: func(h string) (preflight.Host, error) { return c.Pool.Get(h) }}
	if c.Bundle != nil {
		o.Arch = c.Bundle.Manifest.Target.Arch // every host must run the bundle's architecture
	}
	p := &preflight.Phase{Options: o}
	c.preflight = p
	return p
}

// Preflight returns the cluster's preflight phase.
func (c *Cluster) Preflight() *preflight.Phase { return c.preflight }

// Install runs the install. The cluster's lock is held for the whole run (dry runs need none).
func Install(ctx context.Context, o Options) (*Result, error) {
	inv := o.Inventory
	if inv == nil || o.Bundle == nil {
		return nil, errors.New("install needs an inventory and a bundle")
	}
	if len(inv.ControlPlanes()) == 0 {
		return nil, errors.New("the inventory has no control plane")
	}
	if err := CheckStorageImages(inv, o.Bundle.Manifest); err != nil {
		return nil, err
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	a, err := action.Open(action.Options{Action: "install", Inventory: inv, StateDir: o.StateDir, Journal: true,
		Inputs:   []phase.Input{InventoryInput(inv, o.InventoryBytes), {Name: "bundle", Digest: o.Bundle.ManifestDigest}},
		OnChange: phase.RestartOnChange, Restart: o.Restart, DryRun: o.DryRun, Skip: o.Skip, Only: o.Only,
		Concurrency: o.Concurrency, Observers: o.Observers, Logger: o.Logger, Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, inv, o.Bundle, cacheDir)
	rep, err := a.Run(ctx, phases(c)...)
	res := &Result{Report: rep, StateDir: a.Dir}
	if !o.DryRun {
		if _, serr := os.Stat(filepath.Join(a.Dir, KubeconfigFile)); serr == nil {
			res.Kubeconfig = filepath.Join(a.Dir, KubeconfigFile)
		}
	}
	return res, err
}

// InventoryInput describes the inventory for the journal, with one part per host so that a changed host is named.
func InventoryInput(inv *inventory.Inventory, raw []byte) phase.Input {
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
