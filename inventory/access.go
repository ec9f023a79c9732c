package inventory

import (
	"fmt"
	"net/netip"
)

// Get returns the plane called name, or nil when it is not defined.
func (p *NetworkPlanes) Get(name PlaneName) *Plane {
	switch name {
	case Management:
		return p.Management
	case Control:
		return p.Control
	case StorageNet:
		return p.Storage
	case Business:
		return p.Business
	}
	return nil
}

// Set defines (or with nil, removes) the plane called name.
func (p *NetworkPlanes) Set(name PlaneName, plane *Plane) {
	switch name {
	case Management:
		p.Management = plane
	case Control:
		p.Control = plane
	case StorageNet:
		p.Storage = plane
	case Business:
		p.Business = plane
	}
}

// Defined lists the planes that are defined, in canonical order.
func (p *NetworkPlanes) Defined() []PlaneName {
	var out []PlaneName
	for _, name := range AllPlanes {
		if p.Get(name) != nil {
			out = append(out, name)
		}
	}
	return out
}

// Prefix returns the parsed CIDR of a plane; ok is false when the plane is missing or its CIDR is invalid.
func (p *NetworkPlanes) Prefix(name PlaneName) (netip.Prefix, bool) {
	plane := p.Get(name)
	if plane == nil {
		return netip.Prefix{}, false
	}
	pfx, err := netip.ParsePrefix(plane.CIDR)
	return pfx, err == nil
}

// Get returns the host's NIC on a plane, or nil.
func (n *NICs) Get(name PlaneName) *NIC {
	switch name {
	case Management:
		return n.Management
	case Control:
		return n.Control
	case StorageNet:
		return n.Storage
	case Business:
		return n.Business
	}
	return nil
}

// Set puts (or with nil, removes) the NIC for a plane.
func (n *NICs) Set(name PlaneName, nic *NIC) {
	switch name {
	case Management:
		n.Management = nic
	case Control:
		n.Control = nic
	case StorageNet:
		n.Storage = nic
	case Business:
		n.Business = nic
	}
}

// Has reports whether the host carries role. Control planes always run stacked etcd.
func (h *Host) Has(role Role) bool {
	for _, r := range h.Roles {
		if r == role || (role == RoleEtcd && r == RoleControlPlane) {
			return true
		}
	}
	return false
}

// AddressOn returns the host's address on a plane, or "" when it has no NIC there.
func (h *Host) AddressOn(plane PlaneName) string {
	if nic := h.NICs.Get(plane); nic != nil {
		return nic.Address
	}
	return ""
}

// Host returns the host called name, or nil.
func (inv *Inventory) Host(name string) *Host {
	for i := range inv.Hosts {
		if inv.Hosts[i].Name == name {
			return &inv.Hosts[i]
		}
	}
	return nil
}

// HostsWith returns the hosts that carry role, in inventory order.
func (inv *Inventory) HostsWith(role Role) []*Host {
	var out []*Host
	for i := range inv.Hosts {
		if inv.Hosts[i].Has(role) {
			out = append(out, &inv.Hosts[i])
		}
	}
	return out
}

// ControlPlanes returns the control-plane hosts; the first one initialises the cluster.
func (inv *Inventory) ControlPlanes() []*Host { return inv.HostsWith(RoleControlPlane) }

// Workers returns the hosts that are Kubernetes nodes but not control planes.
func (inv *Inventory) Workers() []*Host {
	var out []*Host
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		if h.Has(RoleWorker) && !h.Has(RoleControlPlane) {
			out = append(out, h)
		}
	}
	return out
}

// Nodes returns the hosts that join Kubernetes: control planes and workers.
func (inv *Inventory) Nodes() []*Host {
	var out []*Host
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		if h.IsNode() {
			out = append(out, h)
		}
	}
	return out
}

// Traffic is a kind of traffic that belongs on one plane.
type Traffic int

// Kinds of traffic.
const (
	TrafficSSH     Traffic = iota // operations: SSH from berth
	TrafficControl                // API server, etcd, kubelet, VRRP
	TrafficPods                   // pod-to-pod (the CNI's interface)
	TrafficImages                 // image pulls and pushes
	TrafficStorage                // storage back ends
)

// planePreference lists, per kind of traffic, the planes that may carry it in order of preference.
var planePreference = map[Traffic][]PlaneName{
	TrafficSSH:     {Management},
	TrafficControl: {Control, Management},
	TrafficPods:    {Business, Control, Management},
	TrafficImages:  {StorageNet, Management},
	TrafficStorage: {StorageNet, Management},
}

// PlaneFor returns the plane that carries a kind of traffic: the configured one where the inventory says
// (kubernetes.podPlane), else the first defined plane in the order of preference.
func (inv *Inventory) PlaneFor(t Traffic) PlaneName {
	if t == TrafficPods && inv.Kubernetes.PodPlane != "" {
		return inv.Kubernetes.PodPlane
	}
	for _, p := range planePreference[t] {
		if inv.NetworkPlanes.Get(p) != nil {
			return p
		}
	}
	return Management
}

// NodeIP returns the address Kubernetes components of a host bind to and advertise: its control-plane NIC.
func (inv *Inventory) NodeIP(h *Host) string { return h.AddressOn(inv.PlaneFor(TrafficControl)) }

// APIEndpoint returns host:port clients use to reach the API server (the VIP, or the external balancer).
func (inv *Inventory) APIEndpoint() string {
	if inv.ControlPlane.LoadBalancer.Type == LBExternal {
		return inv.ControlPlane.LoadBalancer.Endpoint
	}
	return netip.AddrPortFrom(mustAddr(inv.ControlPlane.VIP), uint16(inv.ControlPlane.Port)).String()
}

func mustAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a
}

// DNSHosts returns the hosts that serve cluster DNS.
func (inv *Inventory) DNSHosts() []*Host {
	if len(inv.DNS.Hosts) == 0 {
		return inv.ControlPlanes()
	}
	var out []*Host
	for _, name := range inv.DNS.Hosts {
		if h := inv.Host(name); h != nil {
			out = append(out, h)
		}
	}
	return out
}

// SSHTarget is the effective SSH configuration for one host, with per-host overrides applied and paths resolved.
type SSHTarget struct {
	Host          string    // host name from the inventory
	Address       string    // address dialled
	Port          int       // SSH port
	User          string    // login user
	IdentityFiles []string  // absolute paths of private keys
	Agent         bool      // offer ssh-agent keys
	PasswordFrom  SecretRef // password reference, if any
	Sudo          bool      // run commands through sudo
	SudoPassword  SecretRef // the password sudo asks for, by reference; empty when sudo must not ask
	KnownHosts    string    // absolute path of known_hosts, if any
	HostKeys      []string  // pinned SHA256 fingerprints, if any
	Bastion       *Bastion  // jump host, if any (IdentityFile resolved)
	BastionAt     string    // where the bastion is configured ("ssh.bastion", "hosts[2].ssh.bastion"), for messages
	BastionPins   []string  // pinned fingerprints of the bastion
	Timeout       Duration  // connect timeout
	Keepalive     Duration  // keepalive interval
}

// hostIndex returns the index of h in inv.Hosts, or -1 when h is not one of them.
func (inv *Inventory) hostIndex(h *Host) int {
	for i := range inv.Hosts {
		if &inv.Hosts[i] == h || inv.Hosts[i].Name == h.Name {
			return i
		}
	}
	return -1
}

// SSHFor returns the effective SSH settings for a host: the host's own settings (user, port, keys, passwords,
// sudo, bastion) over the inventory's.
func (inv *Inventory) SSHFor(h *Host) SSHTarget {
	s := inv.SSH
	t := SSHTarget{Host: h.Name, Address: h.Address, Port: s.Port, User: s.User, Agent: s.Agent,
		PasswordFrom: s.PasswordFrom, SudoPassword: s.SudoPasswordFrom, KnownHosts: inv.ResolvePath(s.KnownHosts),
		Timeout: s.ConnectTimeout, Keepalive: s.Keepalive}
	files := s.IdentityFiles
	var sudo *bool = s.Sudo
	bastion, bastionAt := s.Bastion, "ssh.bastion"
	if o := h.SSH; o != nil {
		if o.User != "" {
			t.User = o.User
		}
		if o.Port != 0 {
			t.Port = o.Port
		}
		if len(o.IdentityFiles) > 0 {
			files = o.IdentityFiles
		}
		if !o.PasswordFrom.IsZero() {
			t.PasswordFrom = o.PasswordFrom
		}
		t.HostKeys = o.HostKeys
		if o.Sudo != nil {
			sudo = o.Sudo
		}
		if !o.SudoPasswordFrom.IsZero() {
			t.SudoPassword = o.SudoPasswordFrom
		}
		if o.Bastion != nil {
			bastion, bastionAt = o.Bastion, fmt.Sprintf("hosts[%d].ssh.bastion", inv.hostIndex(h))
		}
	}
	for _, pin := range s.HostKeys {
		if pin.Address == h.Address {
			t.HostKeys = append(t.HostKeys, pin.Fingerprints...)
		}
	}
	for _, f := range files {
		t.IdentityFiles = append(t.IdentityFiles, inv.ResolvePath(f))
	}
	if t.User == "" {
		t.User = "root"
	}
	if t.Port == 0 {
		t.Port = 22
	}
	t.Sudo = t.User != "root"
	if sudo != nil {
		t.Sudo = *sudo
	}
	if b := bastion; b != nil {
		bc := *b
		if bc.Port == 0 {
			bc.Port = 22
		}
		if bc.User == "" {
			bc.User = t.User
		}
		bc.IdentityFile = inv.ResolvePath(bc.IdentityFile)
		t.Bastion, t.BastionAt = &bc, bastionAt
		if bc.HostKey != "" {
			t.BastionPins = append(t.BastionPins, bc.HostKey)
		}
		for _, pin := range s.HostKeys {
			if pin.Address == bc.Address {
				t.BastionPins = append(t.BastionPins, pin.Fingerprints...)
			}
		}
	}
	return t
}
