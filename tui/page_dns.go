package tui

import "strings"

func newDNSPage(m *Model) page {
	p := &formPage{m: m, name: "DNS",
		intro:    "Cluster DNS runs in the host network of the DNS hosts: dnsmasq answers on port 53, forwards the cluster domain to the DNS backend and everything else to the bank's resolvers.",
		prefixes: []string{"dns", "kubernetes.clusterDomain"}}
	p.build = func() []*field {
		d := &m.inv.DNS
		g, s := bindList(&d.Upstreams)
		up := newText("dns.upstreams", "Upstream resolvers", "e.g. 10.10.0.53, 10.10.0.54", g, s)
		up.hint = "IPv4 addresses, optionally with #port; comma-separated"
		g, s = bindList(&d.Hosts)
		var cps []string
		for _, h := range m.inv.ControlPlanes() {
			cps = append(cps, h.Name)
		}
		hosts := newText("dns.hosts", "DNS hosts", "default: the control planes ("+strings.Join(cps, ", ")+")", g, s)
		hosts.hint = "hosts that serve DNS; empty means every control plane"
		g, s = bindString(&d.Backend)
		backend := newChoice("dns.backend", "Backend", []string{"", "coredns", "kube-dns"}, g, s)
		backend.shown = map[string]string{"": "default (coredns)"}
		g, s = bindString(&m.inv.Kubernetes.ClusterDomain)
		domain := newText("kubernetes.clusterDomain", "Cluster domain", "default: cluster.local", g, s)
		return []*field{up, hosts, backend, domain}
	}
	return p
}
