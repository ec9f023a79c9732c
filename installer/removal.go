package installer

import (
	"fmt"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/inventory"
)

// Removal is what removing a node takes, worked out from the inventory, the node's host and the cluster before
// any host changes: berth node remove prints it with -o json|yaml.
type Removal struct {
	Node         string        `json:"node"`
	InInventory  bool          `json:"inInventory"`  // the inventory lists the host: berth can reach it and reset it
	ControlPlane bool          `json:"controlPlane"` // a control plane (by the inventory, its Node's role or its etcd member)
	Registered   bool          `json:"registered"`   // a Node object exists
	Ready        bool          `json:"ready"`        // the node is Ready (a node that is not is not drained: its pods go with it)
	EtcdMember   string        `json:"etcdMember,omitempty"`
	Etcd         []MemberState `json:"etcd,omitempty"` // every etcd member as read before the removal
	Steps        []string      `json:"steps"`          // what the removal does, in order
	Nothing      bool          `json:"nothingToDo"`    // the node is gone already: a finished removal run again
}

// MemberState is one etcd member as a removal sees it.
type MemberState struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
	Removed bool   `json:"removed,omitempty"` // the member of the node being removed
}

// removalFacts is what planRemoval decides from: read from the inventory, the host and the cluster.
type removalFacts struct {
	Node              string
	Host              *inventory.Host // nil when the inventory does not list the node
	HostHasBerth      bool            // the host carries what berth installed (it is reset)
	Registered        bool            // a Node object exists
	Ready             bool            // its Ready condition is true
	RoleControlPlane  bool            // the Node has the control-plane role
	Members           []MemberState   // every etcd member, the node's marked Removed
	ControlPlanesLeft []string        // the inventory's control planes once the node is gone
	DNSHostsLeft      []string        // the inventory's DNS hosts once the node is gone
	Known             []string        // every node name of the inventory and the cluster, for "did you mean"
	Blocking          []kube.BlockingBudget
	DisableEviction   bool
	DrainTimeout      time.Duration
}

// planRemoval works out the steps of a removal, or refuses it, naming why and the fix. It refuses before anything
// changes: a name that is no node, the last control plane or DNS host, a removal that would leave etcd without a
// healthy quorum (or is asked of an etcd that has none now), and a drain that a PodDisruptionBudget holds.
func planRemoval(f removalFacts) (*Removal, error) {
	r := &Removal{Node: f.Node, InInventory: f.Host != nil, Registered: f.Registered, Ready: f.Ready, Etcd: f.Members}
	var member *MemberState
	for i := range f.Members {
		if f.Members[i].Removed {
			member = &f.Members[i]
		}
	}
	if member != nil {
		r.EtcdMember = member.ID
	}
	r.ControlPlane = member != nil || f.RoleControlPlane || (f.Host != nil && f.Host.Has(inventory.RoleControlPlane))
	if f.Host != nil && !f.Host.Has(inventory.RoleControlPlane) && !f.Host.Has(inventory.RoleWorker) {
		return nil, fmt.Errorf("%s is not a Kubernetes node (roles: %s): berth node remove removes control planes and workers", f.Node, roles(f.Host))
	}
	if f.Host == nil && !f.Registered && member == nil {
		return nil, fmt.Errorf("no node %s in the inventory or the cluster%s", f.Node, suggest(f.Node, f.Known))
	}
	if r.ControlPlane {
		if len(f.ControlPlanesLeft) == 0 {
			return nil, fmt.Errorf("%s is the last control plane: removing it removes the cluster.\n  fix: to remove the whole cluster, run berth reset", f.Node)
		}
		if len(f.DNSHostsLeft) == 0 {
			return nil, fmt.Errorf("%s is the last host serving cluster DNS.\n  fix: add another host to dns.hosts in the inventory and run berth install first", f.Node)
		}
	}
	if member != nil {
		if err := quorumAfter(f.Node, f.Members); err != nil {
			return nil, err
		}
	}
	drain := f.Registered && f.Ready && f.Host != nil && f.HostHasBerth
	if drain && !f.DisableEviction && len(f.Blocking) > 0 {
		var lines []string
		for _, b := range f.Blocking {
			lines = append(lines, fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption now (%d of %d pods healthy, %d needed) and covers %s",
				b.Namespace, b.Name, b.Healthy, b.Expected, b.NeedsHealthy, strings.Join(b.Pods, ", ")))
		}
		return nil, fmt.Errorf("draining %s would wait for:\n   %s\n  fix: scale the workload up or relax its budget (kubectl -n NAMESPACE edit pdb NAME), then run the same command again; "+
			"--disable-eviction deletes the pods without asking their budgets", f.Node, strings.Join(lines, "\n   "))
	}

	if !f.Registered && member == nil && !(f.Host != nil && f.HostHasBerth) {
		// Removed already (a finished removal run again): the phases only check that nothing names it any more.
		r.Nothing = true
		return r, nil
	}
	how := "evicting, PodDisruptionBudgets honoured"
	if f.DisableEviction {
		how = "deleting pods, PodDisruptionBudgets NOT honoured"
	}
	switch {
	case drain:
		r.Steps = append(r.Steps, fmt.Sprintf("cordon and drain %s (%s; up to %s)", f.Node, how, f.DrainTimeout))
	case f.Registered:
		r.Steps = append(r.Steps, fmt.Sprintf("no drain: %s is not Ready or not reachable; its pods go with its Node and their controllers start them elsewhere", f.Node))
	}
	if r.ControlPlane {
		left := strings.Join(f.ControlPlanesLeft, ", ")
		if f.Host != nil {
			r.Steps = append(r.Steps, fmt.Sprintf("take %s out of the haproxy of every control plane, then stop keepalived and haproxy on it (the VIP moves first if it holds it)", f.Node))
		} else {
			r.Steps = append(r.Steps, fmt.Sprintf("take %s out of the haproxy of %s", f.Node, left))
		}
		if member != nil {
			if f.Host != nil {
				r.Steps = append(r.Steps, fmt.Sprintf("hand etcd's leadership on if %s's member leads, and stop %s's API server, controller manager and scheduler", f.Node, f.Node))
			}
			r.Steps = append(r.Steps, fmt.Sprintf("remove etcd member %s (%s): %d members -> %d", member.ID, f.Node, len(f.Members), len(f.Members)-1))
		}
		r.Steps = append(r.Steps, "write haproxy and keepalived on "+left+" without "+f.Node, "point every node's DNS cache at "+strings.Join(f.DNSHostsLeft, ", "))
	}
	if f.Host != nil && f.HostHasBerth {
		r.Steps = append(r.Steps, fmt.Sprintf("reset %s: kubeadm reset, berth's services, files and packages removed (as berth reset does)", f.Node))
	}
	if f.Registered {
		r.Steps = append(r.Steps, "delete node "+f.Node)
	}
	return r, nil
}

// quorumAfter refuses removing the node's etcd member when etcd has no healthy quorum now (the removal itself needs
// one to commit) or would not have one afterwards.
func quorumAfter(node string, members []MemberState) error {
	n := len(members)
	healthy := 0
	var target MemberState
	var sick []string
	for _, m := range members {
		if m.Healthy {
			healthy++
		} else if !m.Removed {
			sick = append(sick, memberName(m))
		}
		if m.Removed {
			target = m
		}
	}
	state := describeMembers(members)
	if n == 1 {
		return fmt.Errorf("%s runs the only etcd member: removing it removes the cluster's data.\n  etcd now: %s\n  fix: to remove the whole cluster, run berth reset", node, state)
	}
	if healthy < n/2+1 {
		return fmt.Errorf("etcd has no quorum now (%d of %d members healthy, %d needed): no member can be removed safely.\n  etcd now: %s\n"+
			"  fix: bring the unhealthy members back first (berth status -i INVENTORY shows them); if the cluster cannot recover, restore it from a snapshot (berth etcd restore)",
			healthy, n, n/2+1, state)
	}
	after, healthyAfter := n-1, healthy
	if target.Healthy {
		healthyAfter--
	}
	if healthyAfter < after/2+1 {
		return fmt.Errorf("removing %s would leave etcd with %d members of which %d healthy: %d are needed for a quorum.\n  etcd now: %s\n"+
			"  fix: bring %s back first; if it is gone for good, remove it first (delete it from the inventory, then berth node remove %s)",
			node, after, healthyAfter, after/2+1, state, strings.Join(sick, ", "), firstOf(sick))
	}
	return nil
}

func memberName(m MemberState) string {
	if m.Name == "" {
		return "member " + m.ID + " (not started)"
	}
	return m.Name
}

func describeMembers(ms []MemberState) string {
	var parts []string
	for _, m := range ms {
		s := memberName(m) + " healthy"
		if !m.Healthy {
			s = memberName(m) + " unhealthy"
			if m.Error != "" {
				s += " (" + m.Error + ")"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return "NAME"
	}
	return s[0]
}

func roles(h *inventory.Host) string {
	var out []string
	for _, r := range h.Roles {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// suggest names the closest known name, or lists them.
func suggest(name string, known []string) string {
	best, dist := "", 3
	for _, k := range known {
		if d := inventory.EditDistance(name, k); d < dist {
			best, dist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	if len(known) > 0 {
		return "; its nodes are " + strings.Join(known, ", ")
	}
	return ""
}
