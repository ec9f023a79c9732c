package planes

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// Where the host firewall lives: one nftables table of berth's own, loaded from one file in one transaction (the
// file deletes and rebuilds the table, so a load replaces every rule at once or none), and a unit that loads it at
// boot.
const (
	FirewallTable    = "inet berth"
	FirewallPath     = "/etc/berth/firewall.nft"
	FirewallUnit     = "berth-firewall"
	FirewallUnitPath = "/etc/systemd/system/berth-firewall.service"
)

// Ports the firewall opens that the inventory does not name.
const (
	kubeletPort   = 10250
	etcdPorts     = "2379-2380"
	vxlanPort     = 8472 // flannel's VXLAN
	dnsPort       = 53
	nodePortRange = "30000-32767"
	vrrpProtocol  = 112
)

// FirewallInput is what the rules of a host need besides the inventory.
type FirewallInput struct {
	// SSHSources are the addresses berth's SSH connections come from (this machine, a bastion) as the hosts see
	// them: SSH stays open to them on every NIC berth dials, so the firewall never shuts berth out.
	SSHSources []netip.Addr
	APIService netip.Addr // the kubernetes Service's address: pods reach the API through it
	DNSService netip.Addr // the kube-dns Service's address: pods ask cluster DNS there
}

// Service is one thing a NIC accepts.
type Service struct {
	Plane inventory.PlaneName
	Name  string         // what it is, written as the rule's comment
	Proto string         // tcp, udp or vrrp
	Ports string         // a port or a range ("2379-2380"); "" for vrrp
	To    netip.Addr     // only to this address (a VIP); invalid for any address of the host
	From  []netip.Prefix // only from these sources; nil for any
}

// NICRules are the services one interface accepts: those of every plane it carries.
type NICRules struct {
	Interface string
	Planes    []inventory.PlaneName
	Services  []Service
}

// PodException is what pods may still reach on the guarded planes.
type PodException struct {
	Name string
	Rule string // the nftables match
}

// Firewall is the rule set of one host.
type Firewall struct {
	Host string
	NICs []NICRules // in the order of the planes

	// Pods (nodes only): traffic from the pod network to the guarded subnets is dropped, apart from the exceptions,
	// whether it is for this host (input) or routed through it to another (forward).
	PodCIDR       netip.Prefix
	Guarded       []netip.Prefix
	PodExceptions []PodException

	// NodePortNICs are the interfaces that do not carry the pod plane: NodePorts arriving there are dropped.
	NodePortNICs []string
}

// HostFirewall returns the rules of host h: each NIC accepts the services of its planes that h runs, and nothing
// else new; replies to what the host started, loopback and ICMP always pass.
func HostFirewall(inv *inventory.Inventory, h *inventory.Host, in FirewallInput) (*Firewall, error) {
	fw := &Firewall{Host: h.Name}
	cidr := func(p inventory.PlaneName) []netip.Prefix {
		if pfx, ok := inv.NetworkPlanes.Prefix(p); ok {
			return []netip.Prefix{pfx}
		}
		return nil
	}
	var svcs []Service
	add := func(plane inventory.PlaneName, name, proto, ports string, from []netip.Prefix) {
		svcs = append(svcs, Service{Plane: plane, Name: name, Proto: proto, Ports: ports, From: from})
	}

	// SSH: from the management plane, the operators' subnets and wherever berth connects from, on the management
	// NIC and on the NIC of the address berth dials.
	sshFrom := cidr(inventory.Management)
	if inv.Firewall != nil {
		for _, s := range inv.Firewall.SSHFrom {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("firewall.sshFrom: %w", err)
			}
			sshFrom = append(sshFrom, pfx)
		}
	}
	for _, a := range in.SSHSources {
		if !covered(sshFrom, a) {
			sshFrom = append(sshFrom, netip.PrefixFrom(a, 32))
		}
	}
	sshPort := strconv.Itoa(sshPortOf(inv, h))
	sshPlanes := []inventory.PlaneName{inventory.Management}
	for _, p := range inventory.AllPlanes {
		if h.AddressOn(p) == h.Address && p != inventory.Management {
			sshPlanes = append(sshPlanes, p)
		}
	}
	for _, p := range sshPlanes {
		add(p, "ssh", "tcp", sshPort, sshFrom)
	}

	control := inv.PlaneFor(inventory.TrafficControl)
	cp := inv.ControlPlane
	if h.Has(inventory.RoleControlPlane) {
		if cp.LoadBalancer.Type == inventory.LBKeepalivedHAProxy {
			vip, err := netip.ParseAddr(cp.VIP)
			if err != nil {
				return nil, fmt.Errorf("controlPlane.vip: %w", err)
			}
			svcs = append(svcs, Service{Plane: cp.VIPPlane, Name: "the API on its VIP", Proto: "tcp", Ports: strconv.Itoa(cp.Port), To: vip})
			add(cp.VIPPlane, "VRRP of the API's VIP", "vrrp", "", cidr(cp.VIPPlane))
			add(control, "API server behind haproxy", "tcp", strconv.Itoa(cp.LoadBalancer.APIServerPort), cidr(control))
		} else {
			add(control, "API server behind the external load balancer", "tcp", strconv.Itoa(cp.LoadBalancer.APIServerPort), nil)
		}
	}
	if h.Has(inventory.RoleEtcd) {
		add(control, "etcd client and peer", "tcp", etcdPorts, cidr(control))
	}
	if h.IsNode() {
		pods := inv.PlaneFor(inventory.TrafficPods)
		add(control, "kubelet", "tcp", strconv.Itoa(kubeletPort), cidr(control))
		add(pods, "pod network (flannel VXLAN)", "udp", strconv.Itoa(vxlanPort), cidr(pods))
		add(pods, "NodePorts", "tcp", nodePorts(inv), nil)
		add(pods, "NodePorts", "udp", nodePorts(inv), nil)
		if err := fw.guardPods(inv, in); err != nil {
			return nil, err
		}
		podNIC := nicOf(h, pods)
		for _, p := range inventory.AllPlanes {
			if n := nicOf(h, p); n != "" && n != podNIC && !slices.Contains(fw.NodePortNICs, n) {
				fw.NodePortNICs = append(fw.NodePortNICs, n)
			}
		}
	}
	if slices.ContainsFunc(inv.DNSHosts(), func(d *inventory.Host) bool { return d.Name == h.Name }) {
		add(control, "cluster DNS", "udp", strconv.Itoa(dnsPort), nil)
		add(control, "cluster DNS", "tcp", strconv.Itoa(dnsPort), nil)
	}
	for _, r := range inv.Registries {
		if !slices.Contains(r.Hosts, h.Name) {
			continue
		}
		ports := strconv.Itoa(r.Port)
		if r.PushPort != 0 {
			ports += ", " + strconv.Itoa(r.PushPort)
		}
		add(r.Plane, "registry "+r.Name, "tcp", ports, nil)
		if r.VIP != "" {
			add(r.Plane, "VRRP of registry "+r.Name+"'s VIP", "vrrp", "", cidr(r.Plane))
		}
	}

	if inv.Firewall != nil {
		for i, r := range inv.Firewall.Allow {
			if len(r.Hosts) > 0 && !slices.Contains(r.Hosts, h.Name) {
				continue
			}
			if _, _, ok := inventory.PortRange(r.Ports); !ok || (r.Proto != "tcp" && r.Proto != "udp") {
				return nil, fmt.Errorf("firewall.allow[%d]: %s %q is not a protocol and port the firewall can open", i, r.Proto, r.Ports)
			}
			var from []netip.Prefix
			for _, f := range r.From {
				pfx, err := netip.ParsePrefix(f)
				if err != nil {
					return nil, fmt.Errorf("firewall.allow[%d].from: %w", i, err)
				}
				from = append(from, pfx)
			}
			name := r.Description
			if name == "" {
				name = fmt.Sprintf("firewall.allow[%d]", i)
			}
			add(r.Plane, name, r.Proto, r.Ports, from)
		}
	}

	// Group the services by interface, in the order of the planes.
	for _, p := range inventory.AllPlanes {
		iface := nicOf(h, p)
		if iface == "" {
			continue
		}
		i := slices.IndexFunc(fw.NICs, func(n NICRules) bool { return n.Interface == iface })
		if i < 0 {
			fw.NICs = append(fw.NICs, NICRules{Interface: iface})
			i = len(fw.NICs) - 1
		}
		fw.NICs[i].Planes = append(fw.NICs[i].Planes, p)
		for _, s := range svcs {
			if s.Plane == p {
				fw.NICs[i].Services = append(fw.NICs[i].Services, s)
			}
		}
	}
	return fw, nil
}

// guardPods sets what pods may not reach: the management and control subnets, but for the API (through its VIP or
// the kubernetes Service) and cluster DNS (through the kube-dns Service).
func (fw *Firewall) guardPods(inv *inventory.Inventory, in FirewallInput) error {
	pods, err := netip.ParsePrefix(inv.Kubernetes.PodCIDR)
	if err != nil {
		return fmt.Errorf("kubernetes.podCIDR: %w", err)
	}
	fw.PodCIDR = pods
	for _, p := range []inventory.PlaneName{inventory.Management, inv.PlaneFor(inventory.TrafficControl), inv.ControlPlane.VIPPlane} {
		if pfx, ok := inv.NetworkPlanes.Prefix(p); ok && !slices.Contains(fw.Guarded, pfx) {
			fw.Guarded = append(fw.Guarded, pfx)
		}
	}
	cp := inv.ControlPlane
	if cp.LoadBalancer.Type == inventory.LBKeepalivedHAProxy && cp.VIP != "" {
		fw.PodExceptions = append(fw.PodExceptions, PodException{Name: "the API through its VIP",
			Rule: fmt.Sprintf("ip daddr %s tcp dport %d", cp.VIP, cp.Port)})
	}
	if !in.APIService.IsValid() || !in.DNSService.IsValid() {
		return fmt.Errorf("host %s: the firewall needs the addresses of the kubernetes and kube-dns Services", fw.Host)
	}
	fw.PodExceptions = append(fw.PodExceptions,
		PodException{Name: "the API through the kubernetes Service", Rule: "ct original ip daddr " + in.APIService.String()},
		PodException{Name: "cluster DNS through the kube-dns Service", Rule: "ct original ip daddr " + in.DNSService.String()})
	return nil
}

// Render writes the rule set as an nftables file: loading it replaces berth's table in one transaction.
func (fw *Firewall) Render() []byte {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("\t", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "# berth's host firewall for %s (docs/planes.md). berth install writes this file; edits are replaced.", fw.Host)
	w(0, "# Each plane's NIC accepts only its plane's services; replies, loopback and ICMP always pass.")
	w(0, "table %s", FirewallTable)
	w(0, "delete table %s", FirewallTable)
	w(0, "table %s {", FirewallTable)
	pods := fw.PodCIDR.IsValid() && len(fw.Guarded) > 0
	w(1, "chain input {")
	w(2, "type filter hook input priority filter - 5; policy accept;")
	w(2, "ct state established,related accept")
	w(2, "iif \"lo\" accept")
	if pods {
		w(2, "ip saddr %s ip daddr %s jump from_pods", fw.PodCIDR, set(fw.Guarded))
	}
	for _, n := range fw.NICs {
		w(2, "iifname %q jump %s", n.Interface, chainOf(n.Interface))
	}
	w(1, "}")
	if pods {
		w(1, "chain forward {")
		w(2, "type filter hook forward priority filter - 5; policy accept;")
		w(2, "ip saddr %s ip daddr %s jump from_pods", fw.PodCIDR, set(fw.Guarded))
		w(1, "}")
		w(1, "chain from_pods {")
		for _, e := range fw.PodExceptions {
			w(2, "%s accept comment %q", e.Rule, e.Name)
		}
		w(2, "counter drop comment %q", "pods reach no management or control address")
		w(1, "}")
	}
	if len(fw.NodePortNICs) > 0 {
		quoted := make([]string, len(fw.NodePortNICs))
		for i, n := range fw.NodePortNICs {
			quoted[i] = strconv.Quote(n)
		}
		w(1, "chain prerouting {")
		w(2, "type filter hook prerouting priority dstnat - 5; policy accept;")
		w(2, "iifname { %s } fib daddr type local meta l4proto { tcp, udp } th dport %s counter drop comment %q",
			strings.Join(quoted, ", "), fw.nodePorts(), "NodePorts only on the pod plane")
		w(1, "}")
	}
	for _, n := range fw.NICs {
		w(1, "chain %s {", chainOf(n.Interface))
		w(2, "# %s", joinPlanes(n.Planes))
		w(2, "meta l4proto { icmp, ipv6-icmp } accept")
		for _, s := range n.Services {
			w(2, "%s accept comment %q", s.match(), s.Name)
		}
		w(2, "counter drop")
		w(1, "}")
	}
	w(0, "}")
	return []byte(b.String())
}

// nodePorts returns the NodePort range of the rule set's NodePort rule.
func (fw *Firewall) nodePorts() string {
	for _, n := range fw.NICs {
		for _, s := range n.Services {
			if s.Name == "NodePorts" {
				return s.Ports
			}
		}
	}
	return nodePortRange
}

// match is the nftables match of a service.
func (s Service) match() string {
	var parts []string
	if len(s.From) > 0 {
		parts = append(parts, "ip saddr "+set(s.From))
	}
	if s.To.IsValid() {
		parts = append(parts, "ip daddr "+s.To.String())
	}
	if s.Proto == "vrrp" {
		parts = append(parts, "ip protocol "+strconv.Itoa(vrrpProtocol))
	} else if strings.Contains(s.Ports, ",") {
		parts = append(parts, s.Proto+" dport { "+s.Ports+" }")
	} else {
		parts = append(parts, s.Proto+" dport "+s.Ports)
	}
	return strings.Join(parts, " ")
}

// set writes prefixes as an nftables element or anonymous set; a /32 is written as its address.
func set(pfxs []netip.Prefix) string {
	s := make([]string, len(pfxs))
	for i, p := range pfxs {
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		} else {
			s[i] = p.String()
		}
	}
	if len(s) == 1 {
		return s[0]
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

var notChainChar = regexp.MustCompile(`[^A-Za-z0-9_]`)

// chainOf names the chain of an interface: nic_ and the name with anything but letters and digits as _.
func chainOf(iface string) string { return "nic_" + notChainChar.ReplaceAllString(iface, "_") }

func joinPlanes(ps []inventory.PlaneName) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

func nicOf(h *inventory.Host, p inventory.PlaneName) string {
	if n := h.NICs.Get(p); n != nil {
		return n.Interface
	}
	return ""
}

func covered(pfxs []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(pfxs, func(p netip.Prefix) bool { return p.Contains(a) })
}

// sshPortOf returns the SSH port berth dials on h.
func sshPortOf(inv *inventory.Inventory, h *inventory.Host) int {
	if h.SSH != nil && h.SSH.Port != 0 {
		return h.SSH.Port
	}
	if inv.SSH.Port != 0 {
		return inv.SSH.Port
	}
	return 22
}

// nodePorts returns the cluster's NodePort range: the API server's service-node-port-range, or Kubernetes' default.
func nodePorts(inv *inventory.Inventory) string {
	if r := inv.Kubernetes.APIServerArgs["service-node-port-range"]; r != "" {
		return r
	}
	return nodePortRange
}
