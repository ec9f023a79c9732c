package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// healthWait is how long apply waits for the cluster to be healthy before it counts a health check as failed (a
// node whose kubelet an interrupted run restarted comes back within it); a plan looks once.
const healthWait = 2 * time.Minute

// check is the phase that reads the cluster and makes the plan: versions from the hosts' facts, the path, what
// changes where, and every check. In an apply it fails, naming every problem, before any host is touched.
type check struct {
	phase.Base
	r *run
}

func (p *check) Title() string   { return "Check the cluster and plan the upgrade" }
func (p *check) Name() string    { return "check" }
func (p *check) AlwaysRun() bool { return true }

func (p *check) Run(ctx context.Context) error {
	r := p.r
	plan, path := r.makePlan(ctx, p.Session)
	r.plan, r.path = plan, path
	if len(plan.Problems) == 0 || r.planOnly {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems stop the upgrade before any host is touched:", len(plan.Problems))
	for _, pr := range plan.Problems {
		b.WriteString("\n - " + pr.String())
	}
	return fmt.Errorf("%s", b.String())
}

// makePlan reads the hosts' facts (the facts phase ran) and the cluster and works out the plan.
func (r *run) makePlan(ctx context.Context, s *phase.Session) (*Plan, *Path) {
	c, inv := r.c, r.o.Inventory
	target := r.o.target()
	plan := &Plan{Cluster: inv.Metadata.Name, To: target.Manifest.KubernetesVersion, Bundle: target.ManifestDigest}
	add := func(name string, ok bool, detail string, problems ...Problem) {
		plan.Checks = append(plan.Checks, Check{Name: name, OK: ok, Detail: detail})
		plan.Problems = append(plan.Problems, problems...)
	}

	// Versions: the control plane is as far as its least upgraded API server; kubelets from each node.
	var current Version
	haveCP := false
	kubelets := map[string]Version{}
	for _, h := range inv.Nodes() {
		vs := c.State(h.Name).Versions
		if v, err := ParseVersion(vs["kubelet"]); err == nil {
			kubelets[h.Name] = v
		} else {
			plan.Problems = append(plan.Problems, Problem{Check: "installed", Host: h.Name, Detail: "no kubelet installed",
				Fix: "install the cluster first (berth install), or remove the host from the inventory"})
		}
		if h.Has(inventory.RoleControlPlane) {
			v, err := ParseVersion(vs["kube-apiserver"])
			if err != nil {
				plan.Problems = append(plan.Problems, Problem{Check: "installed", Host: h.Name, Detail: "no API server runs here",
					Fix: "install the cluster first (berth install)"})
				continue
			}
			if !haveCP || v.Compare(current) < 0 {
				current, haveCP = v, true
			}
		}
	}
	if !haveCP {
		return plan, nil
	}
	plan.From = current.String()
	path, problems := PlanPath(current, kubelets, r.o.Bundles)
	add("version path", len(problems) == 0, r.describePath(current, path), problems...)
	if path == nil {
		return plan, nil
	}
	for _, h := range path.Hops {
		plan.Hops = append(plan.Hops, HopPlan{From: h.From.String(), To: h.To.String(), Bundle: h.Bundle.Manifest.Name + " " + h.Bundle.Manifest.Version})
	}
	r.planHosts(plan, target)
	r.planSteps(plan)
	add("bundle", true, fmt.Sprintf("%s %s for %s/%s, signature and every digest verified", target.Manifest.Name,
		target.Manifest.Version, target.Manifest.Target.OS, target.Manifest.Target.Arch))
	r.checkDisk(plan, add)
	if !plan.Nothing {
		r.checkStaged(ctx, add)
		r.checkHealth(ctx, s, add)
		r.checkDisruption(ctx, plan)
	}
	return plan, path
}

func (r *run) describePath(current Version, p *Path) string {
	if p == nil {
		return "no usable path from " + current.String()
	}
	if len(p.Hops) == 0 {
		return "the control plane already runs " + current.String()
	}
	var hops []string
	for _, h := range p.Hops {
		hops = append(hops, h.To.String())
	}
	return fmt.Sprintf("%s -> %s, one minor at a time; kubelets move once, to %s", current, strings.Join(hops, " -> "), p.Target)
}

// planHosts lists what changes on every node, and the worker batches.
func (r *run) planHosts(plan *Plan, target *bundles.Bundle) {
	want := TargetVersions(target)
	inv := r.o.Inventory
	nothing := true
	i := 0
	for _, h := range inv.Nodes() {
		hp := HostPlan{Host: h.Name}
		for _, role := range h.Roles {
			hp.Roles = append(hp.Roles, string(role))
		}
		have := r.c.State(h.Name).Versions
		for _, comp := range hostComponents(inv, h) {
			to, ok := want[comp]
			if !ok || have[comp] == to {
				continue
			}
			if have[comp] == "" {
				continue // not on this host (an add-on's pod elsewhere, dnsmasq in the DNS pod of the management variant)
			}
			hp.Changes = append(hp.Changes, ComponentChange{Component: comp, From: have[comp], To: to})
		}
		if len(hp.Changes) > 0 {
			nothing = false
			if !h.Has(inventory.RoleControlPlane) {
				hp.Batch = i/r.batch + 1
				i++
			}
		}
		plan.Hosts = append(plan.Hosts, hp)
	}
	plan.Nothing = nothing
}

// planSteps writes the order of the work.
func (r *run) planSteps(plan *Plan) {
	if plan.Nothing {
		return
	}
	inv := r.o.Inventory
	plan.Steps = append(plan.Steps, "take an etcd snapshot (kept in the cluster's state directory and on "+inv.ControlPlanes()[0].Name+")",
		"stage the bundle on every node and load its images into containerd")
	for _, hop := range plan.Hops {
		first := true
		for _, h := range inv.ControlPlanes() {
			verb := "kubeadm upgrade node"
			if first {
				verb = "kubeadm upgrade apply " + hop.To
				first = false
			}
			plan.Steps = append(plan.Steps, fmt.Sprintf("control plane %s to %s: out of every haproxy, %s, new kubelet, wait for /readyz and etcd, back into haproxy",
				h.Name, hop.To, verb))
		}
	}
	plan.Steps = append(plan.Steps, "add-ons: the pod network and cluster DNS from the bundle, rolling, DNS answering between steps")
	batches := map[int][]string{}
	last := 0
	for _, h := range plan.Hosts {
		if h.Batch > 0 {
			batches[h.Batch] = append(batches[h.Batch], h.Host)
			last = max(last, h.Batch)
		}
	}
	for b := 1; b <= last; b++ {
		plan.Steps = append(plan.Steps, fmt.Sprintf("workers batch %d (%s): cordon, drain (PodDisruptionBudgets honoured), upgrade to %s, uncordon; then check the API, nodes, DNS and system pods",
			b, strings.Join(batches[b], ", "), plan.To))
	}
}

// checkDisk checks every node has room under /var/lib for what staging puts there, twice over (the archive and
// containerd's copy of the images), plus 512 MiB, above the kubelet's eviction threshold (manifests.EvictionDiskPercent
// of the file system): a node that crosses it mid-upgrade evicts pods and deletes the images just loaded.
func (r *run) checkDisk(plan *Plan, add func(string, bool, string, ...Problem)) {
	content := r.c.Content()
	var problems []Problem
	least := int64(-1)
	for _, n := range content.Nodes {
		if n.NoNode {
			continue // no node: it stages the registry engine and a few packages, tens of MiB, and runs no kubelet
		}
		facts, err := r.c.OSFacts(n.Name)
		if err != nil {
			problems = append(problems, Problem{Check: "disk", Host: n.Name, Detail: err.Error(), Fix: "make the host reachable"})
			continue
		}
		// Below the eviction threshold the kubelet removes unused images, the upgrade's among them, mid-upgrade.
		staged, err := content.Needs(n)
		if err != nil {
			problems = append(problems, Problem{Check: "disk", Host: n.Name, Detail: err.Error(), Fix: "rebuild the bundle"})
			continue
		}
		var bytes int64
		for _, size := range staged {
			bytes += size
		}
		need := 2*bytes + 512<<20 + facts.DiskSizeBytes*manifests.EvictionDiskPercent/100
		if least < 0 || facts.DiskFreeBytes < least {
			least = facts.DiskFreeBytes
		}
		if facts.DiskFreeBytes < need {
			problems = append(problems, Problem{Check: "disk", Host: n.Name,
				Detail: fmt.Sprintf("%s free under /var/lib, the upgrade needs %s (with the %d%% the kubelet keeps free: below it, it evicts pods and deletes unused images)",
					airgap.HumanBytes(facts.DiskFreeBytes), airgap.HumanBytes(need), manifests.EvictionDiskPercent),
				Fix: "free space under /var/lib (old images: crictl rmi --prune; old logs), or grow the file system"})
		}
	}
	add("disk", len(problems) == 0, fmt.Sprintf("room to stage the bundle on every node (least free: %s)", airgap.HumanBytes(max(least, 0))), problems...)
}

// checkStaged checks that every node holds what a patch bundle opened without its base (no --base) takes from that
// base: the content the node staged from the base at install or at the last upgrade. A full bundle, or a patch
// with its base here, reads no host.
func (r *run) checkStaged(ctx context.Context, add func(string, bool, string, ...Problem)) {
	contents := append([]*airgap.Content{r.c.Content()}, r.hopContents()...)
	partial := 0
	var problems []Problem
	for _, c := range contents {
		if !c.Bundle.WithoutBase {
			continue
		}
		partial++
		err := c.Lacking(ctx)
		var lack *airgap.LackingError
		switch {
		case errors.As(err, &lack):
			for _, n := range c.NodeNames() {
				if _, ok := lack.Hosts[n]; ok {
					problems = append(problems, Problem{Check: "staged content", Host: n, Detail: lack.HostProblem(n), Fix: lack.Fix()})
				}
			}
		case err != nil:
			problems = append(problems, Problem{Check: "staged content", Detail: err.Error(), Fix: "make every node reachable, or pass the base bundle with --base"})
		}
	}
	if partial > 0 {
		add("staged content", len(problems) == 0, "every node holds what the patch bundles take from their bases (not given with --base)", problems...)
	}
}

// checkHealth checks what must hold before the first change: every node Ready, every etcd member healthy, and the
// API answering through the VIP. A plan looks once; an apply waits up to healthWait for each.
func (r *run) checkHealth(ctx context.Context, s *phase.Session, add func(string, bool, string, ...Problem)) {
	c, inv := r.c, r.o.Inventory
	wait := time.Duration(0)
	if !r.planOnly {
		wait = healthWait
	}
	look := func(name string, w phase.Wait, fix string) {
		w.Timeout = max(wait, time.Millisecond)
		var err error
		if wait == 0 {
			var done bool
			var status string
			done, status, err = w.Check(ctx)
			if err == nil && !done {
				err = fmt.Errorf("%s", status)
			}
		} else {
			err = phase.Poll(ctx, w, func(status string) { s.Debugf("", "%s: %s", name, status) })
		}
		if err != nil {
			add(name, false, err.Error(), Problem{Check: name, Detail: err.Error(), Fix: fix})
			return
		}
		add(name, true, w.What)
	}
	k, err := c.Kube(ctx)
	if err != nil {
		add("api", false, err.Error(), Problem{Check: "api", Detail: err.Error(), Fix: "bring the control planes back (berth status shows what is down)"})
		return
	}
	look("nodes", phase.Wait{What: "every node Ready", Check: phase.Condition(k.NodesReady(hostNames(inv.Nodes())))},
		"bring the node back (kubelet, network), or take it out of the inventory; berth upgrades healthy clusters only")
	look("etcd", c.EtcdHealthy(0), "restore the etcd member (berth status shows which); the upgrade needs every member healthy")
	look("api", c.APIThroughVIP(0), "check keepalived and haproxy on the control planes: the VIP must answer")
}

// checkDisruption warns about PodDisruptionBudgets that allow no disruption now and cover pods on nodes the upgrade
// drains: their drain waits (DrainTimeout at most) and then stops, naming them.
func (r *run) checkDisruption(ctx context.Context, plan *Plan) {
	var drained []string
	for _, h := range plan.Hosts {
		if h.Batch > 0 {
			drained = append(drained, h.Host)
		}
	}
	k, err := r.c.Kube(ctx)
	if err != nil || len(drained) == 0 {
		return
	}
	budgets, err := k.BlockingBudgets(ctx, drained)
	if err != nil {
		plan.Warnings = append(plan.Warnings, Problem{Check: "disruption", Detail: err.Error(), Fix: "check the API"})
		return
	}
	for _, b := range budgets {
		plan.Warnings = append(plan.Warnings, Problem{Check: "disruption",
			Detail: fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption now (%d of %d pods healthy, %d needed): draining would wait for %s",
				b.Namespace, b.Name, b.Healthy, b.Expected, b.NeedsHealthy, strings.Join(b.Pods, ", ")),
			Fix: "scale the workload up or relax the budget before the upgrade; apply waits for it (--drain-timeout) and then stops there"})
	}
}

func hostNames(hosts []*inventory.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}
