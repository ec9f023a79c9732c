package tui

import (
	"strings"

	"github.com/berthsh/berth/inventory"
	tea "github.com/charmbracelet/bubbletea"
)

var planeHelp = map[inventory.PlaneName]string{
	inventory.Management: "SSH and operations (required)",
	inventory.Control:    "API server, etcd, kubelet, VRRP; empty: management carries it",
	inventory.StorageNet: "image pulls and pushes, storage back ends; empty: management carries it",
	inventory.Business:   "pod traffic; empty: control (or management) carries it",
}

// planesPage defines the network planes by their CIDRs, and the pod and service networks that must not overlap
// them.
type planesPage struct {
	formPage
	cache map[inventory.PlaneName]*inventory.Plane // planes whose CIDR was cleared keep their other settings here
}

func newPlanesPage(m *Model) page {
	p := &planesPage{cache: map[inventory.PlaneName]*inventory.Plane{}}
	p.formPage = formPage{m: m, name: "Networks",
		intro:    "One subnet per kind of traffic; every host gets a NIC on each plane defined here. Leave a plane empty when its traffic shares another plane.",
		prefixes: []string{"networkPlanes", "kubernetes.podCIDR", "kubernetes.serviceCIDR", "kubernetes.podPlane"}}
	p.build = p.fields
	p.below = p.seen
	return p
}

func (p *planesPage) enter() tea.Cmd {
	for _, name := range inventory.AllPlanes {
		if pl := p.m.inv.NetworkPlanes.Get(name); pl != nil {
			p.cache[name] = pl
		} else if p.cache[name] == nil {
			p.cache[name] = &inventory.Plane{}
		}
	}
	return p.formPage.enter()
}

func (p *planesPage) fields() []*field {
	nps := &p.m.inv.NetworkPlanes
	var out []*field
	for _, name := range inventory.AllPlanes {
		pl := p.cache[name]
		cidr := newText("networkPlanes."+string(name), titleCase(string(name)), "", func() string { return pl.CIDR },
			func(v string) error {
				pl.CIDR = strings.TrimSpace(v)
				if pl.CIDR == "" {
					nps.Set(name, nil)
				} else {
					nps.Set(name, pl)
				}
				return nil
			})
		cidr.hint = planeHelp[name]
		switch name {
		case inventory.Management:
			cidr.input.Placeholder = "e.g. 10.10.0.0/24"
		default:
			cidr.input.Placeholder = "not used"
		}
		g, s := bindInt(&pl.VLAN)
		vlan := newText("networkPlanes."+string(name)+".vlan", "  VLAN", "optional", g, s)
		vlan.hidden = func() bool { return nps.Get(name) == nil }
		out = append(out, cidr, vlan)
	}
	k := &p.m.inv.Kubernetes
	g, s := bindString(&k.PodCIDR)
	pod := newText("kubernetes.podCIDR", "Pod network", "default: 10.244.0.0/16", g, s)
	pod.hint = "must overlap neither the service network nor any plane"
	g, s = bindString(&k.ServiceCIDR)
	svc := newText("kubernetes.serviceCIDR", "Service network", "default: 10.96.0.0/16", g, s)
	return append(out, pod, svc)
}

func (p *planesPage) seen(w int) string {
	subnets := subnetsSeen(p.m)
	if len(subnets) == 0 {
		return ""
	}
	return paint(st.dim, wrapText("Subnets seen on the hosts: "+strings.Join(subnets, ", "), w, "  "))
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
