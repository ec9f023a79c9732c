package tui

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

// vipPage sets the API endpoint: the load balancer type, the VIP and its plane.
type vipPage struct {
	formPage
	suggested string // the address proposed on entering, for the hint
}

func newVIPPage(m *Model) page {
	p := &vipPage{}
	p.formPage = formPage{m: m, name: "API VIP",
		intro:    "Clients reach the Kubernetes API on a virtual IP: keepalived holds it on one control plane (unicast VRRP) and haproxy on every control plane balances to all API servers.",
		prefixes: []string{"controlPlane"}}
	p.build = p.fields
	return p
}

// vipPlane is the plane the VIP lives on, explicit or defaulted.
func (p *vipPage) vipPlane() inventory.PlaneName {
	if pl := p.m.inv.ControlPlane.VIPPlane; pl != "" {
		return pl
	}
	return p.m.inv.PlaneFor(inventory.TrafficControl)
}

func (p *vipPage) enter() tea.Cmd {
	cp := &p.m.inv.ControlPlane
	p.suggested = ""
	if a, ok := suggestVIP(p.m, p.vipPlane()); ok {
		p.suggested = a.String()
		if cp.VIP == "" && cp.LoadBalancer.Type != inventory.LBExternal {
			cp.VIP = p.suggested
			p.m.changed()
		}
	}
	return p.formPage.enter()
}

func (p *vipPage) fields() []*field {
	cp := &p.m.inv.ControlPlane
	lb := newChoice("controlPlane.loadBalancer.type", "Load balancer",
		[]string{"", inventory.LBExternal},
		func() string {
			if cp.LoadBalancer.Type == inventory.LBKeepalivedHAProxy {
				return ""
			}
			return cp.LoadBalancer.Type
		},
		func(v string) error {
			if cp.LoadBalancer.Type != "" || v != "" {
				cp.LoadBalancer.Type = v
			}
			return nil
		})
	lb.shown = map[string]string{"": "keepalived + haproxy", inventory.LBExternal: "external"}
	external := func() bool { return cp.LoadBalancer.Type == inventory.LBExternal }
	g, s := bindString(&cp.LoadBalancer.Endpoint)
	ep := newText("controlPlane.loadBalancer.endpoint", "Endpoint", "e.g. api.example.bank:6443", g, s)
	ep.hidden = func() bool { return !external() }

	planes := append([]string{""}, planeNames(p.m.inv.NetworkPlanes.Defined())...)
	g, s = bindString((*string)(&cp.VIPPlane))
	plane := newChoice("controlPlane.vipPlane", "VIP plane", planes, g, s)
	plane.shown = map[string]string{"": fmt.Sprintf("default (%s)", p.m.inv.PlaneFor(inventory.TrafficControl))}
	plane.hidden = external
	g, s = bindString(&cp.VIP)
	vip := newText("controlPlane.vip", "VIP", "a free address on the VIP plane", g, s)
	vip.hidden = external
	if p.suggested != "" {
		vip.hint = fmt.Sprintf("suggested %s: in the %s subnet, not used by any host, NIC, gateway or neighbour seen on the hosts", p.suggested, p.vipPlane())
	}
	g, s = bindInt(&cp.Port)
	port := newText("controlPlane.port", "API port", "default: 6443", g, s)
	g, s = bindInt(&cp.LoadBalancer.VirtualRouterID)
	vrid := newText("controlPlane.loadBalancer.virtualRouterID", "VRRP router ID", "default: 51", g, s)
	vrid.hint = "1-255, unique among the VRRP routers on the VIP's plane"
	vrid.hidden = external
	return []*field{lb, ep, plane, vip, port, vrid}
}

func planeNames(ps []inventory.PlaneName) []string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p))
	}
	return out
}
