package inventory

// IsNode reports whether the host joins Kubernetes: control planes and workers do. A host with only the registry
// or storage role is a machine berth reaches over SSH and never joins.
func (h *Host) IsNode() bool { return h.Has(RoleControlPlane) || h.Has(RoleWorker) }

// PlaneNeed is a plane a host needs a NIC on, with the role and the traffic that need it.
type PlaneNeed struct {
	Plane PlaneName
	Role  string // "a Kubernetes node", "a control plane", "a registry host", ...
	For   string // the traffic: "API server, etcd and kubelet traffic"
}

// PlanesFor returns the defined planes a host needs a NIC on, in canonical order, from its roles:
//
//   - every host: management (SSH from berth);
//   - Kubernetes nodes (control planes and workers): every plane node traffic uses after the fallbacks of
//     PlaneFor (control, pods, image pulls, storage back ends); control planes behind keepalived also the VIP's;
//   - registry hosts: the image plane, and the plane of every registry they run;
//   - storage hosts: the storage plane.
//
// A registry or storage host of an inventory that defines all four planes therefore needs only its management
// and storage NICs.
func (inv *Inventory) PlanesFor(h *Host) []PlaneNeed {
	need := map[PlaneName]PlaneNeed{}
	add := func(p PlaneName, role, what string) {
		if _, seen := need[p]; !seen && inv.NetworkPlanes.Get(p) != nil {
			need[p] = PlaneNeed{Plane: p, Role: role, For: what}
		}
	}
	add(Management, "any host", "SSH from berth")
	if h.IsNode() {
		role := "a worker"
		if h.Has(RoleControlPlane) {
			role = "a control plane"
		}
		add(inv.PlaneFor(TrafficControl), role, "API server, etcd and kubelet traffic")
		add(inv.PlaneFor(TrafficPods), role, "pod traffic (the CNI's interface)")
		add(inv.PlaneFor(TrafficImages), role, "image pulls from the registries")
		add(inv.PlaneFor(TrafficStorage), role, "storage back ends")
		if h.Has(RoleControlPlane) && inv.ControlPlane.LoadBalancer.Type != LBExternal && inv.ControlPlane.VIPPlane != "" {
			add(inv.ControlPlane.VIPPlane, role, "the API VIP (VRRP)")
		}
	}
	if h.Has(RoleRegistry) {
		add(inv.PlaneFor(TrafficImages), "a registry host", "image pulls and pushes")
		for _, r := range inv.Registries {
			if contains(r.Hosts, h.Name) && r.Plane != "" {
				add(r.Plane, "a registry host", "registry "+r.Name)
			}
		}
	}
	if h.Has(RoleStorage) {
		add(inv.PlaneFor(TrafficStorage), "a storage host", "storage traffic")
	}
	var out []PlaneNeed
	for _, p := range AllPlanes {
		if n, ok := need[p]; ok {
			out = append(out, n)
		}
	}
	return out
}
