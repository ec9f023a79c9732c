package installer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// controlPlaneRole is the label kubeadm puts on control-plane nodes.
const controlPlaneRole = "node-role.kubernetes.io/control-plane"

// checkRemoval reads the node, etcd and the budgets that cover the node's pods, works out the removal and refuses
// it, naming why and the fix, when it is unsafe. It changes nothing, and runs on every run (never journaled): a
// resumed run decides from what is there now.
type checkRemoval struct {
	phase.Base
	r *removal
}

func (p *checkRemoval) Title() string   { return "Check the removal" }
func (p *checkRemoval) Name() string    { return "check" }
func (p *checkRemoval) AlwaysRun() bool { return true }

func (p *checkRemoval) Run(ctx context.Context) error {
	r, c, name := p.r, p.r.c, p.r.o.Node
	k, err := c.Kube(ctx)
	if err != nil {
		return err
	}
	nodes, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	registered := make([]string, len(nodes.Items))
	for i := range nodes.Items {
		registered[i] = nodes.Items[i].Name
	}
	if absent := leaveOutUnjoined(c.Inv, registered); len(absent) > 0 {
		p.Logf("", "%s: in the inventory but no node of the cluster (removed earlier, or not joined yet): left alone, "+
			"and the load balancer and the DNS caches are written without them", strings.Join(absent, ", "))
	}
	f := removalFacts{Node: name, Host: r.host, DisableEviction: r.o.DisableEviction, DrainTimeout: r.o.DrainTimeout,
		ControlPlanesLeft: names(c.Inv.ControlPlanes()), DNSHostsLeft: names(c.Inv.DNSHosts())}
	if r.host != nil {
		st := c.State(name)
		f.HostHasBerth = st.Has("berth") || st.Has("kubelet-conf") || st.Has("apiserver") || st.Has("etcd-data") || st.Has("pki")
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		f.Known = append(f.Known, n.Name)
		if n.Name == name {
			_, cp := n.Labels[controlPlaneRole]
			f.Registered, f.Ready, f.RoleControlPlane = true, kube.NodeReady(n), cp
		}
	}
	for _, h := range p.r.o.Inventory.Nodes() {
		if !slices.Contains(f.Known, h.Name) {
			f.Known = append(f.Known, h.Name)
		}
	}
	if f.Members, err = p.members(ctx); err != nil {
		return err
	}
	r.drain = f.Registered && f.Ready && r.host != nil && f.HostHasBerth
	if r.drain && !f.DisableEviction {
		if f.Blocking, err = k.BlockingBudgets(ctx, []string{name}); err != nil {
			return err
		}
	}
	if r.plan, err = planRemoval(f); err != nil {
		return err
	}
	if r.plan.Nothing {
		p.Logf("", "%s is removed already: not registered, no etcd member, nothing of berth on its host", name)
	}
	for i, s := range r.plan.Steps {
		p.Logf("", "%d. %s", i+1, s)
	}
	return nil
}

// leaveOutUnjoined takes out of rest (the inventory without the node being removed) every node host that is not
// registered in the cluster, and returns their names. Such a host was removed earlier and is still listed, or has
// not joined yet: the removal renders the load balancer and the DNS caches for the cluster as it is, and waits for
// no DNS cache on them. The next berth install joins them.
func leaveOutUnjoined(rest *inventory.Inventory, registered []string) []string {
	var absent []string
	rest.Hosts = slices.DeleteFunc(slices.Clone(rest.Hosts), func(h inventory.Host) bool {
		if h.IsNode() && !slices.Contains(registered, h.Name) {
			absent = append(absent, h.Name)
			return true
		}
		return false
	})
	return absent
}

// members reads every etcd member and, when the node has one, every member's health: a quorum decision needs
// them all, the node's own included, whether or not the inventory lists them.
func (p *checkRemoval) members(ctx context.Context) ([]MemberState, error) {
	r, c := p.r, p.r.c
	list, err := c.etcdMembers(ctx)
	if err != nil {
		return nil, err
	}
	ip := ""
	if r.host != nil {
		ip = r.o.Inventory.NodeIP(r.host)
	}
	r.member, r.endpoints = nil, nil
	for i, m := range list {
		if m.Name == r.o.Node || (ip != "" && peerAt(m, ip)) {
			r.member = &list[i]
		}
		r.endpoints = append(r.endpoints, m.ClientURLs...)
	}
	if r.member == nil {
		return nil, nil // a worker, or a control plane whose member is gone already: no quorum to keep
	}
	e, err := c.etcdAt(ctx, r.endpoints)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	health := e.Health(ctx)
	var out []MemberState
	for _, m := range list {
		ms := MemberState{Name: m.Name, ID: m.HexID(), Removed: m.ID == r.member.ID, Error: "not started"}
		if m.Started() {
			ms.Error = "no endpoint answered"
			for _, h := range health {
				if !slices.Contains(m.ClientURLs, h.Endpoint) {
					continue
				}
				ms.Healthy, ms.Error = h.Healthy && h.ID == m.ID, h.Err
			}
		}
		if ms.Healthy {
			ms.Error = ""
		}
		out = append(out, ms)
	}
	return out, nil
}

// peerAt reports whether a member's peer URL is on the given address.
func peerAt(m kube.Member, ip string) bool {
	_, ok := kube.MemberAt([]kube.Member{m}, ip)
	return ok
}
