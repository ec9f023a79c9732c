package installer

import (
	"context"
	"log/slog"
	"sync"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// Cluster is what the phases of one action on a cluster share: the inputs, the connections, and what has been
// learned about the hosts and the cluster so far. Install builds one; so do the actions that build on the
// install's shared phases (upgrade).
type Cluster struct {
	Inv      *inventory.Inventory
	Bundle   *bundles.Bundle // nil for actions that need none (reset, status)
	Pool     *remote.Pool
	Log      *slog.Logger
	CacheDir string // local cache of files extracted from bundles
	StateDir string // the cluster's state directory (journal, kubeconfig)

	preflight *preflight.Phase // its report holds the OS facts of every host

	mu        sync.Mutex
	states    map[string]*HostState // install state of each host, read by the facts phase
	kube      *kube.Client          // the API, once a control plane is up
	join      *joinSecrets          // token, CA hash and certificate key for joins, once created
	etcdCerts *etcdCerts            // etcd's CA and client certificate, once read
}

// Host returns the connection to a host.
func (c *Cluster) Host(name string) (remote.Host, error) { return c.Pool.Get(name) }

// First returns the control plane the cluster grows from: the first of the inventory's control planes whose facts
// show that it runs the cluster (it has /etc/kubernetes/admin.conf), or, before the cluster exists, the first one
// of the inventory, which initialises it. So a control plane put at the top of the list later, or the first one
// joined again after berth node remove took it out, joins the cluster rather than starting a second one.
func (c *Cluster) First() *inventory.Host {
	cps := c.Inv.ControlPlanes()
	for _, h := range cps {
		if c.State(h.Name).Has("admin") {
			return h
		}
	}
	return cps[0]
}

// State returns what the facts phase read from a host.
func (c *Cluster) State(host string) *HostState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.states[host]; ok {
		return s
	}
	return &HostState{Packages: map[string]string{}, Files: map[string]string{}, Versions: map[string]string{}}
}

func (c *Cluster) setState(host string, s *HostState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = map[string]*HostState{}
	}
	c.states[host] = s
}

// OSFacts returns the preflight facts of a host (cgroups, kernel features, sysctls).
func (c *Cluster) OSFacts(host string) (*preflight.Facts, error) {
	if c.preflight != nil {
		if rep := c.preflight.Report(); rep != nil {
			for _, f := range rep.Facts {
				if f.Host == host {
					return f, nil
				}
			}
		}
	}
	h, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	return preflight.Gather(context.Background(), h)
}

// Content returns the bundle's content for the inventory's nodes, for the airgap phases.
func (c *Cluster) Content() *airgap.Content {
	var nodes []airgap.Node
	registry := c.registryHosts()
	for _, h := range c.Inv.Nodes() {
		nodes = append(nodes, airgap.Node{Name: h.Name, ControlPlane: h.Has(inventory.RoleControlPlane), Registry: registry[h.Name]})
	}
	for i := range c.Inv.Hosts {
		h := &c.Inv.Hosts[i]
		if h.IsNode() {
			continue
		}
		// A bundle that cannot say what keepalived or nftables needs fails the phase that installs them, which
		// reads it again.
		pkgs, _ := c.nonNodePackages(h.Name)
		if registry[h.Name] || len(pkgs) > 0 {
			nodes = append(nodes, airgap.Node{Name: h.Name, Registry: registry[h.Name], NoNode: true, Packages: pkgs})
		}
	}
	plane := c.Inv.PlaneFor(inventory.TrafficImages)
	relays := &airgap.Relays{Address: func(name string) string {
		if h := c.Inv.Host(name); h != nil {
			return h.AddressOn(plane)
		}
		return ""
	}}
	return &airgap.Content{Bundle: c.Bundle, CacheDir: c.CacheDir, Nodes: nodes, Host: c.Host, Relays: relays, Pulled: c.PulledUpstreams()}
}

// PulledUpstreams are the upstreams whose images nodes pull from a System registry, which the registries phase
// fills with the bundle's images before any node relies on it: those nodes do not import (airgap.ImageSets).
func (c *Cluster) PulledUpstreams() []string {
	if c.Bundle == nil {
		return nil
	}
	mirrors, err := c.containerdMirrors()
	if err != nil {
		return nil // a reference that does not parse: the mirrors phase names it; meanwhile nodes import every image
	}
	system := map[string]bool{}
	for _, r := range c.Inv.Registries {
		system[r.Name] = r.Role == inventory.RegistrySystem
	}
	var out []string
	for _, m := range mirrors {
		if system[m.Registry] {
			out = append(out, m.Upstream)
		}
	}
	return out
}

// pullPolicy is the imagePullPolicy of add-on pods that run these images ("" ones skipped): they pull where the
// nodes pull every one of them from a System registry, and never pull where the nodes imported them.
func (c *Cluster) pullPolicy(refs ...string) string {
	pulled := c.PulledUpstreams()
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		if !airgap.PulledRef(ref, pulled) {
			return manifests.PullPolicy(false)
		}
	}
	return manifests.PullPolicy(true)
}

// names returns the names of hosts.
func names(hosts []*inventory.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// allHosts returns the name of every host in the inventory.
func (c *Cluster) allHosts() []string {
	out := make([]string, len(c.Inv.Hosts))
	for i, h := range c.Inv.Hosts {
		out[i] = h.Name
	}
	return out
}
