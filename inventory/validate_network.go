package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parsePrefix parses an IPv4 CIDR written in canonical form, reporting a problem at path when it is not one.
func (v *validator) parsePrefix(s, path string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		v.errorf(path, "write an IPv4 subnet such as 10.20.0.0/24", "%q is not an IPv4 CIDR", s)
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		v.errorf(path, fmt.Sprintf("did you mean %s?", p.Masked()), "%s has host bits set", s)
		return netip.Prefix{}, false
	}
	return p, true
}

// parseAddr parses an IPv4 address, reporting a problem at path when it is not one.
func (v *validator) parseAddr(s, path string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		v.errorf(path, "write an IPv4 address such as 10.20.0.11", "%q is not an IPv4 address", s)
		return netip.Addr{}, false
	}
	return a, true
}

// usable reports whether a is a host address of p (not its network or broadcast address).
func usable(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) {
		return false
	}
	if p.Bits() >= 31 {
		return true
	}
	return a != p.Addr() && a != broadcast(p)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func (v *validator) planes() {
	type named struct {
		name PlaneName
		pfx  netip.Prefix
	}
	var seen []named
	for _, name := range v.inv.NetworkPlanes.Defined() {
		plane := v.inv.NetworkPlanes.Get(name)
		path := "networkPlanes." + string(name)
		if plane.CIDR == "" {
			continue // reported as a missing required field
		}
		pfx, ok := v.parsePrefix(plane.CIDR, path+".cidr")
		if plane.VLAN != 0 && (plane.VLAN < 1 || plane.VLAN > 4094) {
			v.errorf(path+".vlan", "use a VLAN ID between 1 and 4094", "VLAN %d is out of range", plane.VLAN)
		}
		if plane.MTU != 0 && (plane.MTU < 576 || plane.MTU > 9216) {
			v.errorf(path+".mtu", "use an MTU between 576 and 9216", "MTU %d is out of range", plane.MTU)
		}
		if !ok {
			continue
		}
		if plane.Gateway != "" {
			if gw, ok := v.parseAddr(plane.Gateway, path+".gateway"); ok && !usable(pfx, gw) {
				v.errorf(path+".gateway", "use an address inside "+pfx.String(), "gateway %s is not a host address of %s", gw, pfx)
			}
		}
		for _, other := range seen {
			if other.pfx.Overlaps(pfx) {
				v.errorf(path+".cidr", fmt.Sprintf("give each plane its own subnet; %s is %s", other.name, other.pfx),
					"plane %s (%s) overlaps plane %s (%s)", name, pfx, other.name, other.pfx)
			}
		}
		seen = append(seen, named{name, pfx})
	}
}

func (v *validator) controlPlane() {
	cp := v.inv.ControlPlane
	if len(v.inv.Hosts) > 0 && len(v.inv.ControlPlanes()) == 0 && len(v.unsure) == 0 {
		v.errorf("hosts", "give at least one host the role control-plane (three for high availability)",
			"no host has the control-plane role")
	}
	if n := len(v.inv.ControlPlanes()); n > 0 && n%2 == 0 {
		v.warnf("hosts", "use an odd number of control planes (3 or 5): an even etcd membership tolerates no more failures than one member fewer",
			"%d control planes run %d stacked etcd members, an even number", n, n)
	}
	if n := len(v.inv.ControlPlanes()); n == 1 && (v.inv.Metadata.Environment == "prod" || v.inv.Metadata.Environment == "dr" || v.inv.Metadata.Environment == "preprod") {
		v.warnf("hosts", "run three control planes in "+v.inv.Metadata.Environment,
			"a single control plane is not highly available")
	}
	v.port(cp.Port, "controlPlane.port")
	v.certSANs()
	lb := cp.LoadBalancer
	switch lb.Type {
	case LBExternal:
		if lb.Endpoint == "" {
			v.errorf("controlPlane.loadBalancer", "set controlPlane.loadBalancer.endpoint to the balancer's host:port",
				"an external load balancer needs an endpoint")
		} else if _, port, err := net.SplitHostPort(lb.Endpoint); err != nil || port == "" {
			v.errorf("controlPlane.loadBalancer.endpoint", "write host:port, for example api.example.bank:6443",
				"%q is not host:port", lb.Endpoint)
		}
	case LBKeepalivedHAProxy:
		if lb.VirtualRouterID < 1 || lb.VirtualRouterID > 255 {
			v.errorf("controlPlane.loadBalancer.virtualRouterID", "use a number between 1 and 255 not used by other VRRP routers on the plane",
				"VRRP router ID %d is out of range", lb.VirtualRouterID)
		}
		v.port(lb.APIServerPort, "controlPlane.loadBalancer.apiServerPort")
		if lb.APIServerPort == cp.Port {
			v.errorf("controlPlane.port", fmt.Sprintf("haproxy listens on controlPlane.port and the API servers on controlPlane.loadBalancer.apiServerPort; make them differ (for example port %d and apiServerPort %d)", 6443, 6444),
				"haproxy and the API servers would both listen on port %d", cp.Port)
		}
		if cp.VIP == "" {
			v.errorf("controlPlane.vip", fmt.Sprintf("set controlPlane.vip to a free address on plane %q", cp.VIPPlane),
				"the keepalived-haproxy load balancer needs a VIP")
			return
		}
		v.vip(cp.VIP, cp.VIPPlane, "controlPlane.vip", "controlPlane.vipPlane")
	}
}

// certSANs checks the extra names of the API server's certificate: each a DNS name (a wildcard only as the first
// label, *.api.example.bank) or an IP address, each once.
func (v *validator) certSANs() {
	seen := map[string]bool{}
	for i, san := range v.inv.ControlPlane.CertSANs {
		path := fmt.Sprintf("controlPlane.certSANs[%d]", i)
		name := strings.TrimPrefix(san, "*.")
		if _, err := netip.ParseAddr(san); err != nil && (!dnsNameRe.MatchString(name) || len(name) > 253) {
			v.errorf(path, "write a DNS name in lower case (api.payments.example.bank) or an IP address (10.20.0.100)",
				"%q is neither a DNS name nor an IP address", san)
		}
		if seen[san] {
			v.errorf(path, "list each name once", "%s is listed twice", san)
		}
		seen[san] = true
	}
}

// vip checks that a virtual IP is a free host address on its plane.
func (v *validator) vip(addr string, plane PlaneName, path, planePath string) {
	a, ok := v.parseAddr(addr, path)
	if !ok {
		return
	}
	pfx, defined := v.inv.NetworkPlanes.Prefix(plane)
	if v.inv.NetworkPlanes.Get(plane) == nil {
		v.errorf(planePath, "define networkPlanes."+string(plane)+" or choose a defined plane",
			"plane %q is not defined", plane)
		return
	}
	if !defined {
		return // the plane's CIDR is reported already
	}
	if !usable(pfx, a) {
		fix := fmt.Sprintf("choose a free address inside %s (plane %s)", pfx, plane)
		for _, other := range v.inv.NetworkPlanes.Defined() {
			if p, ok := v.inv.NetworkPlanes.Prefix(other); ok && other != plane && usable(p, a) {
				fix = fmt.Sprintf("set %s: %s (%s lies in that plane's %s), or %s", planePath, other, a, p, fix)
				break
			}
		}
		v.errorf(path, fix, "VIP %s is not a host address of plane %q (%s)", a, plane, pfx)
	}
	for i, h := range v.inv.Hosts {
		if h.Address == addr {
			v.errorf(path, "a VIP must be an address no host owns; choose a free one",
				"VIP %s is the address of host %s (hosts[%d].address)", a, h.Name, i)
		}
		for _, p := range AllPlanes {
			if nic := h.NICs.Get(p); nic != nil && nic.Address == addr {
				v.errorf(path, "a VIP must be an address no host owns; choose a free one",
					"VIP %s is the %s NIC address of host %s", a, p, h.Name)
			}
		}
	}
}

func (v *validator) port(p int, path string) {
	if p < 1 || p > 65535 {
		v.errorf(path, "use a port between 1 and 65535", "port %d is out of range", p)
	}
}

func (v *validator) kubernetes() {
	k := v.inv.Kubernetes
	pod, podOK := v.parsePrefix(k.PodCIDR, "kubernetes.podCIDR")
	svc, svcOK := v.parsePrefix(k.ServiceCIDR, "kubernetes.serviceCIDR")
	if podOK && svcOK && pod.Overlaps(svc) {
		v.errorf("kubernetes.serviceCIDR", "choose a service network outside "+pod.String(),
			"the service network %s overlaps the pod network %s", svc, pod)
	}
	for _, name := range v.inv.NetworkPlanes.Defined() {
		pfx, ok := v.inv.NetworkPlanes.Prefix(name)
		if !ok {
			continue
		}
		if podOK && pod.Overlaps(pfx) {
			v.errorf("kubernetes.podCIDR", fmt.Sprintf("choose a pod network outside every plane (%s is %s)", name, pfx),
				"the pod network %s overlaps plane %q (%s)", pod, name, pfx)
		}
		if svcOK && svc.Overlaps(pfx) {
			v.errorf("kubernetes.serviceCIDR", fmt.Sprintf("choose a service network outside every plane (%s is %s)", name, pfx),
				"the service network %s overlaps plane %q (%s)", svc, name, pfx)
		}
	}
	// Every node gets a /24 of the pod network.
	if podOK {
		if pod.Bits() > 23 {
			v.errorf("kubernetes.podCIDR", "use a /23 or larger pod network (/16 is usual)",
				"the pod network %s is too small: every node takes a /24", pod)
		} else if nodes := len(v.inv.Nodes()); nodes > 1<<(24-pod.Bits()) {
			v.errorf("kubernetes.podCIDR", "use a larger pod network",
				"the pod network %s holds %d node subnets (/24) but there are %d nodes", pod, 1<<(24-pod.Bits()), nodes)
		}
	}
	if svcOK && svc.Bits() > 24 {
		v.errorf("kubernetes.serviceCIDR", "use a /24 or larger service network", "the service network %s is too small", svc)
	}
	if d := k.ClusterDomain; d != "" && !dnsNameRe.MatchString(d) {
		v.errorf("kubernetes.clusterDomain", "use a DNS domain such as cluster.local", "%q is not a DNS domain", d)
	}
	if k.PodPlane != "" && v.inv.NetworkPlanes.Get(k.PodPlane) == nil {
		v.errorf("kubernetes.podPlane", "choose a defined plane: "+planeList(v.inv.NetworkPlanes.Defined()),
			"plane %q is not defined", k.PodPlane)
	}
	if k.Kubelet.MaxPods < 0 || k.Kubelet.MaxPods > 250 {
		v.errorf("kubernetes.kubelet.maxPods", "use a value between 1 and 250 (a node's /24 holds 254 addresses)",
			"maxPods %d is out of range", k.Kubelet.MaxPods)
	}
	for _, m := range []struct {
		path string
		args map[string]string
	}{{"kubernetes.kubelet.extraArgs", k.Kubelet.ExtraArgs}, {"kubernetes.apiServerArgs", k.APIServerArgs}} {
		for name := range m.args {
			if len(name) == 0 || name[0] == '-' {
				v.errorf(m.path+"."+name, "write the flag name without leading dashes", "flag name %q", name)
			}
		}
	}
}

// hostPort checks an "address:port" or "address" value; port defaults are up to the caller.
func (v *validator) hostPort(s, path string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.errorf(path, "write address:port, for example 10.30.0.5:6789", "%q is not address:port", s)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.errorf(path, "use a port between 1 and 65535", "%q has no valid port", s)
	}
	if host == "" {
		v.errorf(path, "write address:port", "%q has no address", s)
	}
}

func planeList(ps []PlaneName) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += string(p)
	}
	return s
}

// firewall checks the host firewall's settings: its SSH subnets are IPv4 CIDRs.
func (v *validator) firewall() {
	fw := v.inv.Firewall
	if fw == nil {
		return
	}
	for i, s := range fw.SSHFrom {
		v.parsePrefix(s, fmt.Sprintf("firewall.sshFrom[%d]", i))
	}
	for i, r := range fw.Allow {
		path := fmt.Sprintf("firewall.allow[%d]", i)
		if r.Plane != "" && v.inv.NetworkPlanes.Get(r.Plane) == nil {
			v.errorf(path+".plane", "define the plane under networkPlanes, or name a defined one", "plane %q is not defined", r.Plane)
		}
		if r.Ports != "" {
			if _, _, ok := PortRange(r.Ports); !ok {
				v.errorf(path+".ports", "write a port (9100) or a range (9100-9102) of ports 1-65535", "%q is not a port or a range", r.Ports)
			}
		}
		for j, s := range r.From {
			v.parsePrefix(s, fmt.Sprintf("%s.from[%d]", path, j))
		}
		for j, h := range r.Hosts {
			if v.inv.Host(h) == nil {
				v.errorf(fmt.Sprintf("%s.hosts[%d]", path, j), "name a host of hosts[]", "no host is named %q", h)
			}
		}
		if strings.ContainsAny(r.Description, "\"\n\\") {
			v.errorf(path+".description", "leave out quotes, backslashes and line breaks", "the description cannot be written as a rule comment")
		}
	}
}

// PortRange parses a port (9100) or a range of ports (9100-9102), each 1-65535 and the range ascending.
func PortRange(s string) (from, to int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	from, err := strconv.Atoi(a)
	if err != nil || from < 1 || from > 65535 {
		return 0, 0, false
	}
	to = from
	if isRange {
		if to, err = strconv.Atoi(b); err != nil || to < from || to > 65535 {
			return 0, 0, false
		}
	}
	return from, to, true
}
