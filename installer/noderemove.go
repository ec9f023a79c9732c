package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// DefaultRemoveDrainTimeout bounds how long a removed node's drain waits for its pods to go.
const DefaultRemoveDrainTimeout = 5 * time.Minute

// NodeRemoveOptions configure berth node remove.
type NodeRemoveOptions struct {
	Inventory       *inventory.Inventory // loaded and validated; it may still list the node, or no longer
	InventoryBytes  []byte               // the file as read, for the journal's digest
	Node            string               // the node to remove
	StateDir        string               // base of the state directories; "" for the default
	DryRun          bool                 // print every change and wait, change nothing
	DrainTimeout    time.Duration        // 0 means DefaultRemoveDrainTimeout
	DisableEviction bool                 // drain by deleting pods: PodDisruptionBudgets are not honoured
	Observers       []phase.Observer
	Logger          *slog.Logger
	Command         string       // the command line, recorded in the lock
	Pool            *remote.Pool // host connections; nil connects to the inventory's hosts over SSH
}

// NodeRemoveResult is what a removal did.
type NodeRemoveResult struct {
	Removal  *Removal      // the plan, as read before any host changed
	Report   *phase.Report // the run
	StateDir string
}

// removal is what the phases of one removal share.
type removal struct {
	c    *Cluster // the cluster without the node: its inventory lists the hosts that stay
	o    NodeRemoveOptions
	host *inventory.Host // the node's host in the inventory; nil when the inventory no longer lists it

	plan      *Removal
	member    *kube.Member // the node's etcd member, when it has one
	endpoints []string     // every etcd member's client URLs, for health and the leadership hand-off
	drain     bool         // the node is Ready and reachable: drain it
}

// RemoveNode removes a node from the cluster: drained (PodDisruptionBudgets honoured), and for a control plane
// taken out of every haproxy, its keepalived and haproxy stopped (the VIP moves first), etcd's leadership handed on,
// its API server stopped and its etcd member removed; the remaining control planes' haproxy and keepalived and
// every node's DNS cache rewritten without it; the host reset as berth reset does; and the Node deleted. Everything
// that would make it unsafe is refused before any host changes (the last control plane, etcd's quorum, a budget that
// holds the drain). The host stays in the inventory until the operator deletes it there: while it is listed, the
// next berth install joins it again. A host no longer in the inventory (a dead machine) is removed from the cluster
// without being touched. The run is journaled: killed, the same command resumes; finished, it changes nothing
// more.
func RemoveNode(ctx context.Context, o NodeRemoveOptions) (*NodeRemoveResult, error) {
	inv := o.Inventory
	if inv == nil || o.Node == "" {
		return nil, errors.New("a node removal needs an inventory and a node")
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultRemoveDrainTimeout
	}
	rest := withoutHost(inv, o.Node)
	if len(rest.ControlPlanes()) == 0 {
		return nil, fmt.Errorf("%s is the last control plane of the inventory: removing it removes the cluster.\n  fix: to remove the whole cluster, run berth reset", o.Node)
	}
	a, err := action.Open(action.Options{Action: "node-remove", Inventory: inv, StateDir: o.StateDir, Journal: true,
		Inputs:   []phase.Input{InventoryInput(inv, o.InventoryBytes), {Name: "node", Digest: phase.Digest([]byte(o.Node))}},
		OnChange: phase.RestartOnChange, Again: "settle", DryRun: o.DryRun, Observers: o.Observers, Logger: o.Logger,
		Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, rest, nil, "")
	r := &removal{c: c, o: o, host: inv.Host(o.Node)}
	hosts := c.allHosts() // every host that stays, and the node's when the inventory lists it
	if r.host != nil {
		hosts = append(hosts, o.Node)
	}
	rep, err := a.Run(ctx,
		&Connect{C: c, Hosts: hosts},
		&Facts{C: c, Hosts: hosts},
		&checkRemoval{r: r},
		&drainRemoved{r: r},
		&leaveLoadBalancer{r: r},
		&leaveEtcd{r: r},
		&setupLoadBalancer{c: c},
		DNSCache(c),
		&resetHosts{c: c, hosts: hostIf(r.host != nil, o.Node)},
		&deleteNode{r: r},
		&settleRemoval{r: r},
	)
	if err != nil && r.host != nil && unreachable(err, o.Node) {
		err = fmt.Errorf("%w\n  fix: if %s is gone for good, delete it from the inventory and run the same command again: berth then removes it from the cluster without touching the host", err, o.Node)
	}
	return &NodeRemoveResult{Removal: r.plan, Report: rep, StateDir: a.Dir}, err
}

// withoutHost returns a copy of the inventory without the named host: the cluster as it is once the node is gone,
// from which the load balancer's and the DNS caches' files are rendered.
func withoutHost(inv *inventory.Inventory, name string) *inventory.Inventory {
	rest := *inv
	rest.Hosts = slices.DeleteFunc(slices.Clone(inv.Hosts), func(h inventory.Host) bool { return h.Name == name })
	return &rest
}

func hostIf(ok bool, name string) []string {
	if ok {
		return []string{name}
	}
	return []string{} // not nil: nil means every host
}

// unreachable reports whether err is the connect phase failing on host.
func unreachable(err error, host string) bool {
	var he phase.HostErrors
	return strings.HasPrefix(err.Error(), (&Connect{}).Title()+":") && errors.As(err, &he) && slices.Contains(he.Hosts(), host)
}
