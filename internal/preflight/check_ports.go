package preflight

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// portNeed is a port a host's roles will listen on.
type portNeed struct {
	proto string
	port  int
	what  string
	owner string // process name (as ss shows it, at most 15 characters) of the component that will own it
}

// requiredPorts lists the ports the host's roles need, from the inventory.
func requiredPorts(inv *inventory.Inventory, h *inventory.Host) []portNeed {
	var out []portNeed
	tcp := func(port int, what, owner string) { out = append(out, portNeed{"tcp", port, what, owner}) }
	if h.Has(inventory.RoleControlPlane) {
		cp := inv.ControlPlane
		if cp.LoadBalancer.Type == inventory.LBExternal {
			tcp(cp.Port, "kube-apiserver", "kube-apiserver")
		} else {
			tcp(cp.Port, "API endpoint (haproxy)", "haproxy")
			tcp(cp.LoadBalancer.APIServerPort, "kube-apiserver behind haproxy", "kube-apiserver")
		}
		tcp(2379, "etcd clients", "etcd")
		tcp(2380, "etcd peers", "etcd")
		tcp(10257, "kube-controller-manager", "kube-controller")
		tcp(10259, "kube-scheduler", "kube-scheduler")
	}
	if h.IsNode() {
		tcp(10250, "kubelet", "kubelet")
	}
	if slices.ContainsFunc(inv.DNSHosts(), func(d *inventory.Host) bool { return d.Name == h.Name }) {
		tcp(53, "cluster DNS (dnsmasq)", "dnsmasq")
		out = append(out, portNeed{"udp", 53, "cluster DNS (dnsmasq)", "dnsmasq"})
		tcp(10053, "DNS backend", "coredns")
		out = append(out, portNeed{"udp", 10053, "DNS backend", "coredns"})
	}
	for _, r := range inv.Registries {
		if slices.Contains(r.Hosts, h.Name) {
			tcp(r.Port, "registry "+r.Name, "berth-registry")
		}
	}
	return out
}

// checkPorts: every port the host's roles need must be free, or (re-runs, Options.Installed) held by the
// component berth puts there.
func checkPorts(in *input, h *inventory.Host, f *Facts) []Result {
	needs := requiredPorts(in.inv, h)
	var out []Result
	var free []string
	for _, n := range needs {
		var holders []Listener
		for _, l := range f.Listeners {
			if l.Port == n.port && l.Proto == n.proto {
				holders = append(holders, l)
			}
		}
		if len(holders) == 0 {
			free = append(free, fmt.Sprintf("%d/%s", n.port, n.proto))
			continue
		}
		ours := in.installed
		var who []string
		for _, l := range holders {
			if l.Process != n.owner {
				ours = false
			}
			p := l.Process
			if p == "" {
				p = "unknown process"
			}
			who = append(who, fmt.Sprintf("%s on %s", p, l.Address))
		}
		if ours {
			free = append(free, fmt.Sprintf("%d/%s (%s, installed)", n.port, n.proto, n.owner))
			continue
		}
		out = append(out, Result{Host: h.Name, Check: fmt.Sprintf("ports/%d", n.port), Status: Fail,
			Detail: fmt.Sprintf("%d/%s, needed by %s, is in use by %s", n.port, n.proto, n.what, strings.Join(who, ", ")),
			Fix:    fmt.Sprintf("stop or move %s (ss -ltnup 'sport = :%d' shows it)", holders[0].Process, n.port)})
	}
	if len(free) > 0 {
		out = append(out, Result{Host: h.Name, Check: "ports", Status: OK, Detail: "free: " + strings.Join(free, " ")})
	}
	return out
}
