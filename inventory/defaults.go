package inventory

import "time"

// Default fills every unset field that has a default. It is idempotent. Defaults that depend on other fields (the
// VIP's plane, the DNS hosts) follow what is defined: see PlaneFor.
func (inv *Inventory) Default() {
	s := &inv.SSH
	if s.User == "" {
		s.User = "root"
	}
	if s.Port == 0 {
		s.Port = 22
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = Duration(10 * time.Second)
	}
	if s.Keepalive == 0 {
		s.Keepalive = Duration(15 * time.Second)
	}
	if s.Bastion != nil && s.Bastion.Port == 0 {
		s.Bastion.Port = 22
	}
	for i := range inv.Hosts {
		if o := inv.Hosts[i].SSH; o != nil && o.Bastion != nil && o.Bastion.Port == 0 {
			o.Bastion.Port = 22
		}
	}

	cp := &inv.ControlPlane
	if cp.LoadBalancer.Type == "" {
		cp.LoadBalancer.Type = LBKeepalivedHAProxy
	}
	if cp.VIPPlane == "" {
		cp.VIPPlane = inv.PlaneFor(TrafficControl)
	}
	if cp.Port == 0 {
		cp.Port = 6443
	}
	if cp.LoadBalancer.VirtualRouterID == 0 {
		cp.LoadBalancer.VirtualRouterID = 51
	}
	if cp.LoadBalancer.APIServerPort == 0 {
		cp.LoadBalancer.APIServerPort = 6444
	}

	k := &inv.Kubernetes
	setDefault(&k.PodCIDR, "10.244.0.0/16")
	setDefault(&k.ServiceCIDR, "10.96.0.0/16")
	setDefault(&k.ClusterDomain, "cluster.local")
	setDefault(&k.CNI, "flannel")
	setDefault(&k.ProxyMode, "iptables")
	if k.PodPlane == "" {
		k.PodPlane = inv.PlaneFor(TrafficPods)
	}

	d := &inv.DNS
	setDefault(&d.Variant, DNSManagement)
	setDefault(&d.Backend, "coredns")
	if d.CacheSize == nil {
		n := 1000
		d.CacheSize = &n
	}
	if len(d.Hosts) == 0 {
		for _, h := range inv.ControlPlanes() {
			d.Hosts = append(d.Hosts, h.Name)
		}
	}

	for i := range inv.Registries {
		r := &inv.Registries[i]
		if r.Plane == "" {
			r.Plane = inv.PlaneFor(TrafficImages)
		}
		if r.Port == 0 {
			r.Port = defaultRegistryPort
		}
		if r.PushPort == 0 && r.Role == RegistryUser {
			r.PushPort = r.Port + 1
		}
		if r.VirtualRouterID == 0 && r.VIP != "" {
			r.VirtualRouterID = 52 + i
		}
		setDefault(&r.Engine, EngineDistribution)
		setDefault(&r.StoragePath, defaultRegistryStore)
	}

	if inv.Storage == nil {
		inv.Storage = &Storage{}
	}
	if inv.Storage.LocalPath == nil {
		inv.Storage.LocalPath = &LocalPath{}
	}
	if lp := inv.Storage.LocalPath; lp.Enabled == nil {
		on := true
		lp.Enabled = &on
	}
	setDefault(&inv.Storage.LocalPath.Path, defaultLocalPath)
	if inv.Storage.DefaultClass == "" && *inv.Storage.LocalPath.Enabled {
		inv.Storage.DefaultClass = LocalPathClass
	}
	if st := inv.Storage; st != nil {
		if c := st.Ceph; c != nil {
			setDefault(&c.User, "kubernetes")
			setDefault(&c.StorageClass, "ceph-rbd")
		}
		if t := st.Trident; t != nil {
			setDefault(&t.Namespace, "trident")
			for i := range t.Backends {
				setDefault(&t.Backends[i].StorageClass, t.Backends[i].Name)
			}
		}
	}
	if o := inv.OpenStack; o != nil {
		setDefault(&o.Domain, "Default")
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}
