package inventory

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var quantityRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)

func (v *validator) dns() {
	d := v.inv.DNS
	for i, name := range d.Hosts {
		path := fmt.Sprintf("dns.hosts[%d]", i)
		h := v.inv.Host(name)
		if h == nil {
			v.unknownHost(name, path)
			continue
		}
		if !h.IsNode() && !v.unsure[name] {
			v.errorf(path, "DNS runs as a Kubernetes pod: choose a control-plane or worker host",
				"host %s is not a Kubernetes node", name)
		}
	}
	for i, u := range d.Upstreams {
		v.resolver(u, fmt.Sprintf("dns.upstreams[%d]", i))
	}
	v.dnsForward()
	v.searchDomains()
	if d.CacheSize != nil && (*d.CacheSize < 0 || *d.CacheSize > 100000) {
		v.errorf("dns.cacheSize", "use 0 (no cache) up to 100000 entries", "cache size %d is out of range", *d.CacheSize)
	}
}

// resolver checks a resolver address: IPv4, optionally with #port.
func (v *validator) resolver(s, path string) {
	addr, port, hasPort := strings.Cut(s, "#")
	if a, err := netip.ParseAddr(addr); err != nil || !a.Is4() {
		v.errorf(path, "write an IPv4 address, optionally with #port (10.1.0.53#5353)", "%q is not a resolver address", s)
		return
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.errorf(path, "use a port between 1 and 65535 after #", "%q has an invalid port", s)
		}
	}
}

// dnsForward checks the domains forwarded to resolvers of their own: DNS names, each once, none inside the
// cluster domain (which the backend answers).
func (v *validator) dnsForward() {
	cluster := v.inv.Kubernetes.ClusterDomain
	seen := map[string]int{}
	for i, f := range v.inv.DNS.Forward {
		path := fmt.Sprintf("dns.forward[%d]", i)
		d := strings.TrimSuffix(f.Domain, ".")
		switch {
		case f.Domain == "":
		case !dnsNameRe.MatchString(d) || len(d) > 253:
			v.errorf(path+".domain", "write a DNS domain such as corp.bank.internal", "%q is not a DNS domain", f.Domain)
		case cluster != "" && (d == cluster || strings.HasSuffix(d, "."+cluster)):
			v.errorf(path+".domain", fmt.Sprintf("remove it: the cluster domain %s is answered by the cluster's DNS backend", cluster),
				"%s is inside the cluster domain", d)
		default:
			if j, dup := seen[d]; dup {
				v.errorf(path+".domain", fmt.Sprintf("list the servers of %s once, in dns.forward[%d].servers", d, j), "domain %s is forwarded twice", d)
			}
			seen[d] = i
		}
		for j, s := range f.Servers {
			v.resolver(s, fmt.Sprintf("%s.servers[%d]", path, j))
		}
	}
}

// maxSearchDomains is how many search domains an inventory may add: the kubelet gives a pod at most 32, and
// takes three for the cluster's own.
const maxSearchDomains = 29

// searchDomains checks the search domains pods get after the cluster's own.
func (v *validator) searchDomains() {
	d := v.inv.DNS
	seen := map[string]bool{}
	for i, s := range d.SearchDomains {
		path := fmt.Sprintf("dns.searchDomains[%d]", i)
		name := strings.TrimSuffix(s, ".")
		switch {
		case !dnsNameRe.MatchString(name) || len(name) > 253:
			v.errorf(path, "write a DNS domain such as corp.bank.internal", "%q is not a DNS domain", s)
		case name == v.inv.Kubernetes.ClusterDomain:
			v.errorf(path, "remove it: every pod searches the cluster domain already", "%s is the cluster domain", name)
		case seen[name]:
			v.errorf(path, "list each search domain once", "search domain %s is listed twice", name)
		}
		seen[name] = true
	}
	if n := len(d.SearchDomains); n > maxSearchDomains {
		v.errorf("dns.searchDomains", fmt.Sprintf("keep at most %d: the kubelet gives a pod 32 search domains, three of them the cluster's", maxSearchDomains),
			"%d search domains", n)
	}
}

func (v *validator) unknownHost(name, path string) {
	var names []string
	for _, h := range v.inv.Hosts {
		names = append(names, h.Name)
	}
	fix := "name a host from hosts[]: " + strings.Join(names, ", ")
	if s := suggest(name, names); s != "" {
		fix = fmt.Sprintf("did you mean %q?", s)
	}
	v.errorf(path, fix, "unknown host %q", name)
}

func (v *validator) registries() {
	names := map[string]bool{}
	listeners := map[string]string{} // host/plane/port -> registry
	used := map[string]bool{}
	routers := map[string]string{} // plane/VRRP router ID -> who uses it
	if cp := v.inv.ControlPlane; cp.VIP != "" && cp.LoadBalancer.Type == LBKeepalivedHAProxy {
		routers[fmt.Sprintf("%s/%d", cp.VIPPlane, cp.LoadBalancer.VirtualRouterID)] = "the control plane's VIP"
	}
	for i, r := range v.inv.Registries {
		path := fmt.Sprintf("registries[%d]", i)
		if names[r.Name] {
			v.errorf(path+".name", "give every registry its own name", "duplicate registry name %q", r.Name)
		}
		names[r.Name] = true
		if r.Name != "" && !dnsLabel(r.Name, 63) {
			v.errorf(path+".name", "use lower case letters, digits and '-'", "%q is not a valid registry name", r.Name)
		}
		v.port(r.Port, path+".port")
		switch {
		case r.Role != RegistryUser && r.PushPort != 0:
			v.errorf(path+".pushPort", "remove pushPort: only berth pushes to a System registry, through its own loopback listener",
				"pushPort is for a User registry")
		case r.Role == RegistryUser:
			v.port(r.PushPort, path+".pushPort")
			if r.PushPort == r.Port {
				v.errorf(path+".pushPort", "choose a pushPort other than port", "the push listener needs a port of its own")
			}
		}
		if r.Engine == EngineHarbor {
			v.errorf(path+".engine", "use engine: distribution (the CNCF distribution registry, built into the bundle); see docs/registries.md",
				"berth does not install Harbor: it cannot be built or tested where berth is made, and berth ships nothing it has not run")
		}
		if r.Plane != "" && v.inv.NetworkPlanes.Get(r.Plane) == nil {
			v.errorf(path+".plane", "choose a defined plane: "+planeList(v.inv.NetworkPlanes.Defined()), "plane %q is not defined", r.Plane)
		}
		if r.StoragePath != "" && !strings.HasPrefix(r.StoragePath, "/") {
			v.errorf(path+".storagePath", "write an absolute path such as /var/lib/berth/registry", "%q is not an absolute path", r.StoragePath)
		}
		for j, name := range r.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", path, j)
			h := v.inv.Host(name)
			if h == nil {
				v.unknownHost(name, hp)
				continue
			}
			used[name] = true
			if !h.Has(RoleRegistry) && !v.unsure[name] {
				v.errorf(hp, fmt.Sprintf("add the registry role to host %s, or run the registry elsewhere", name),
					"host %s does not carry the registry role", name)
			}
			ports := []int{r.Port}
			if r.PushPort != 0 && r.PushPort != r.Port { // the same port twice is reported above
				ports = append(ports, r.PushPort)
			}
			for _, port := range ports {
				key := fmt.Sprintf("%s/%s/%d", name, r.Plane, port)
				if other, dup := listeners[key]; dup {
					v.errorf(path+".port", fmt.Sprintf("registry %s already listens on %s:%d of host %s; choose another port", other, r.Plane, port, name),
						"two registries on one listener")
				}
				listeners[key] = r.Name
			}
		}
		if r.VIP != "" {
			v.vip(r.VIP, r.Plane, path+".vip", path+".plane")
			if r.VIP == v.inv.ControlPlane.VIP {
				v.errorf(path+".vip", "give the registry its own VIP", "VIP %s is already the control plane's", r.VIP)
			}
			if r.VirtualRouterID < 1 || r.VirtualRouterID > 255 {
				v.errorf(path+".virtualRouterID", "use a number between 1 and 255 not used by other VRRP routers on the plane",
					"VRRP router ID %d is out of range", r.VirtualRouterID)
			}
			key := fmt.Sprintf("%s/%d", r.Plane, r.VirtualRouterID)
			if other, dup := routers[key]; dup {
				v.errorf(path+".virtualRouterID", fmt.Sprintf("%s already uses VRRP router ID %d on plane %s; choose another", other, r.VirtualRouterID, r.Plane),
					"two VRRP routers with one ID on one plane")
			}
			routers[key] = "registry " + r.Name
		} else if r.VirtualRouterID != 0 {
			v.errorf(path+".virtualRouterID", "remove virtualRouterID, or give the registry a vip", "a VRRP router ID without a VIP")
		}
		for j, m := range r.Mirrors {
			if !dnsNameRe.MatchString(strings.Split(m, ":")[0]) {
				v.errorf(fmt.Sprintf("%s.mirrors[%d]", path, j), "write a registry host name such as registry.k8s.io", "%q is not a registry name", m)
			}
		}
	}
	for i, h := range v.inv.Hosts {
		if h.Has(RoleRegistry) && !used[h.Name] {
			v.warnf(fmt.Sprintf("hosts[%d].roles", i), "list the host in a registries[].hosts, or remove the role",
				"host %s has the registry role but no registry runs on it", h.Name)
		}
	}
}

func (v *validator) storage() {
	st := v.inv.Storage
	if st == nil {
		return
	}
	var classes []string
	if lp := st.LocalPath; lp != nil && (lp.Enabled == nil || *lp.Enabled) {
		classes = append(classes, LocalPathClass)
		if p := lp.Path; p != "" && (!path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.HasPrefix(p+"/", "/var/lib/berth/") ||
			strings.HasPrefix(p+"/", "/etc/") || strings.HasPrefix(p+"/", "/var/lib/kubelet/")) {
			v.errorf("storage.localPath.path", "write an absolute, clean path of its own, such as /var/lib/local-volumes (not /, /etc, /var/lib/berth or /var/lib/kubelet)",
				"%q cannot hold volumes", p)
		}
	}
	if c := st.Ceph; c != nil {
		classes = append(classes, c.StorageClass)
		for i, m := range c.Monitors {
			v.hostPort(m, fmt.Sprintf("storage.ceph.monitors[%d]", i))
		}
	}
	if t := st.Trident; t != nil {
		seen := map[string]bool{}
		for i, b := range t.Backends {
			path := fmt.Sprintf("storage.trident.backends[%d]", i)
			if seen[b.Name] {
				v.errorf(path+".name", "give every back end its own name", "duplicate back end %q", b.Name)
			}
			seen[b.Name] = true
			classes = append(classes, b.StorageClass)
			if b.ManagementLIF != "" {
				v.parseAddr(b.ManagementLIF, path+".managementLIF")
			}
			if b.DataLIF != "" {
				v.parseAddr(b.DataLIF, path+".dataLIF")
			}
		}
	}
	if st.DefaultClass != "" && !slices.Contains(classes, st.DefaultClass) {
		fix := "define a back end whose storage class has this name"
		if len(classes) > 0 {
			fix = "choose one of: " + strings.Join(classes, ", ")
		}
		v.errorf("storage.defaultClass", fix, "no storage class %q is defined", st.DefaultClass)
	}
}

func (v *validator) tenants() {
	names := map[string]bool{}
	for i, t := range v.inv.Tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		if names[t.Name] {
			v.errorf(path+".name", "give every tenant its own name", "duplicate tenant %q", t.Name)
		}
		names[t.Name] = true
		if t.Name != "" && !dnsLabel(t.Name, 63) {
			v.errorf(path+".name", "use lower case letters, digits and '-' (it names namespaces)", "%q is not a valid tenant name", t.Name)
		}
		for field, q := range map[string]string{"cpu": t.Quota.CPU, "memory": t.Quota.Memory, "storage": t.Quota.Storage} {
			if q != "" && !quantityRe.MatchString(q) {
				v.errorf(path+".quota."+field, "write a Kubernetes quantity such as 20, 500m, 64Gi", "%q is not a quantity", q)
			}
		}
		if t.Quota.Pods < 0 {
			v.errorf(path+".quota.pods", "use a positive number", "negative pod quota")
		}
		groups := map[string]bool{}
		for j, g := range t.Groups {
			if groups[g.Name] {
				v.errorf(fmt.Sprintf("%s.groups[%d].name", path, j), "give every group its own name", "duplicate group %q", g.Name)
			}
			groups[g.Name] = true
		}
		if n := t.Network; n != nil {
			if n.PodCIDR != "" {
				v.parsePrefix(n.PodCIDR, path+".network.podCIDR")
			}
			if n.ServiceCIDR != "" {
				v.parsePrefix(n.ServiceCIDR, path+".network.serviceCIDR")
			}
		}
		if t.OpenStackProject != "" && v.inv.OpenStack == nil {
			v.errorf(path+".openstackProject", "add an openstack section, or remove the mapping", "tenant %s maps to OpenStack but no openstack section exists", t.Name)
		}
	}
	if o := v.inv.OpenStack; o != nil {
		if u, err := url.Parse(o.AuthURL); o.AuthURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			v.errorf("openstack.authURL", "write the Keystone URL, for example https://keystone.example.bank:5000/v3", "%q is not an http(s) URL", o.AuthURL)
		}
		password := !o.UsernameFrom.IsZero() && !o.PasswordFrom.IsZero()
		appCred := !o.AppCredIDFrom.IsZero() && !o.AppCredSecretFr.IsZero()
		if !password && !appCred {
			v.errorf("openstack", "set usernameFrom and passwordFrom, or applicationCredentialIDFrom and applicationCredentialSecretFrom",
				"no OpenStack credentials")
		}
	}
}
