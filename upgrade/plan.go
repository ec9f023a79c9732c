package upgrade

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
)

// Plan is what an upgrade does, read from the hosts and the cluster before anything is touched.
type Plan struct {
	Cluster  string     `json:"cluster"`
	From     string     `json:"from"`           // the control plane's Kubernetes version now
	To       string     `json:"to"`             // the version every node ends on
	Hops     []HopPlan  `json:"hops"`           // the control plane's steps, one minor at a time
	Hosts    []HostPlan `json:"hosts"`          // every node, what changes on it
	Steps    []string   `json:"steps"`          // the order of the work
	Checks   []Check    `json:"checks"`         // every check made, passed or not
	Problems []Problem  `json:"problems"`       // failed checks: apply refuses while any remains
	Warnings []Problem  `json:"warnings"`       // what apply will wait for, bounded (PodDisruptionBudgets)
	Nothing  bool       `json:"nothingToDo"`    // every node already runs the target
	Bundle   string     `json:"bundleManifest"` // the target bundle's manifest digest
}

// HopPlan is one step of the control plane and the bundle that carries it.
type HopPlan struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Bundle string `json:"bundle"` // name and version
}

// HostPlan is what changes on one node.
type HostPlan struct {
	Host    string            `json:"host"`
	Roles   []string          `json:"roles"`
	Changes []ComponentChange `json:"changes"` // only components whose version changes
	Batch   int               `json:"batch,omitempty"`
}

// ComponentChange is one component's move on a host.
type ComponentChange struct {
	Component string `json:"component"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// Check is one check of the plan and its outcome.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// OK reports whether apply may go ahead.
func (p *Plan) OK() bool { return p != nil && len(p.Problems) == 0 }

// TargetVersions returns the version of each component in a bundle, by the names the host facts use.
func TargetVersions(b *bundles.Bundle) map[string]string {
	m := b.Manifest
	out := map[string]string{"kubelet": m.KubernetesVersion, "kubeadm": m.KubernetesVersion}
	for _, im := range m.Images {
		for _, ref := range im.Refs {
			repo := airgap.RepoName(ref)
			if slices.Contains(installer.Components, repo) {
				if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
					out[repo] = ref[i+1:]
				}
			}
		}
	}
	for _, p := range m.Packages {
		switch p.Name {
		case "containerd", "runc", "keepalived", "haproxy":
			out[p.Name] = p.Version
		case "dnsmasq", "dnsmasq-base":
			out["dnsmasq"] = p.Version
		}
	}
	return out
}

// hostComponents are the components berth runs on a host, by its roles.
func hostComponents(inv *inventory.Inventory, h *inventory.Host) []string {
	cp := h.Has(inventory.RoleControlPlane)
	lb := cp && inv.ControlPlane.LoadBalancer.Type == inventory.LBKeepalivedHAProxy
	dns := slices.ContainsFunc(inv.DNSHosts(), func(d *inventory.Host) bool { return d.Name == h.Name })
	var out []string
	for _, c := range installer.Components {
		switch c {
		case "coredns", "dns-health", "dnsmasq":
			if !dns {
				continue
			}
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd":
			if !cp {
				continue
			}
		case "keepalived", "haproxy":
			if !lb {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// WriteText prints the plan for people: the hops, each host's changes, the order, the checks, and what stops it.
func (p *Plan) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Upgrade plan for %s: Kubernetes %s -> %s\n", p.Cluster, p.From, p.To)
	if p.Nothing {
		fmt.Fprintln(w, "Every node already runs the target: nothing to upgrade.")
	}
	if len(p.Hops) > 0 {
		fmt.Fprintln(w, "\nControl plane, one minor at a time:")
		for _, h := range p.Hops {
			fmt.Fprintf(w, "  %s -> %s  (bundle %s)\n", h.From, h.To, h.Bundle)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nHOST\tROLES\tCOMPONENT\tFROM\tTO")
	for _, h := range p.Hosts {
		roles := strings.Join(h.Roles, ",")
		if len(h.Changes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t(nothing changes)\t\t\n", h.Host, roles)
			continue
		}
		for i, c := range h.Changes {
			name, r := h.Host, roles
			if i > 0 {
				name, r = "", ""
			}
			from := c.From
			if from == "" {
				from = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, r, c.Component, from, c.To)
		}
	}
	tw.Flush()
	if len(p.Steps) > 0 {
		fmt.Fprintln(w, "\nOrder:")
		for i, s := range p.Steps {
			fmt.Fprintf(w, "  %2d. %s\n", i+1, s)
		}
	}
	fmt.Fprintln(w, "\nChecks:")
	for _, c := range p.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Name, c.Detail)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "  WARN %s\n", warn)
	}
	if len(p.Problems) > 0 {
		fmt.Fprintf(w, "\n%d problems stop the upgrade before any host is touched:\n", len(p.Problems))
		for _, pr := range p.Problems {
			fmt.Fprintf(w, " - %s\n", pr)
		}
	}
	return nil
}
