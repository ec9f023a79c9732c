package installer

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// registryCAOnNode is the registry CA on every node, for containerd.
const registryCAOnNode = "/etc/containerd/berth-registry-ca.crt"

// registryMirrors points every node's containerd at the registries: for each upstream a registry mirrors, a
// hosts.toml that sends pulls to the registry (its VIP first, then each replica), and the registry CA it trusts.
// It runs after the registries phase has filled the System registry, so that no node relies on a replica before
// it serves the bundle's images.
type registryMirrors struct {
	phase.Base
	c *Cluster
}

func (p *registryMirrors) Title() string { return "Point every node's containerd at the registries" }
func (p *registryMirrors) Name() string  { return "registry-mirrors" }

func (p *registryMirrors) ShouldRun() bool { return len(p.c.registryInstances()) > 0 }

func (p *registryMirrors) Run(ctx context.Context) error {
	c := p.c
	mirrors, err := c.containerdMirrors()
	if err != nil {
		return err
	}
	var ca []byte
	if c.registryCAExists() {
		if ca, err = os.ReadFile(filepath.Join(c.StateDir, registryCAName+"-ca.crt")); err != nil {
			return err
		}
	} else if !p.IsDryRun() {
		return fmt.Errorf("the registry CA is not in %s: run the registries phase first (berth install phase registries)", c.StateDir)
	}
	files := []airgap.File{{Path: registryCAOnNode, Content: ca, Mode: 0o644}}
	for _, m := range mirrors {
		data, err := manifests.ContainerdHostsTOML(m)
		if err != nil {
			return err
		}
		files = append(files, airgap.File{Path: m.Path(), Content: data, Mode: 0o644})
	}
	return p.Each(ctx, names(c.Inv.Nodes()), func(ctx context.Context, host string) error {
		e, err := c.Host(host)
		if err != nil {
			return err
		}
		_, err = airgap.EnsureFiles(ctx, p.Session, host, e, files)
		return err
	})
}

// containerdMirrors lists, per upstream registry, where nodes pull its images: the first registry of the
// inventory that mirrors it. A System registry that names no mirrors mirrors every upstream of the bundle's images.
func (c *Cluster) containerdMirrors() ([]manifests.ContainerdMirror, error) {
	seen := map[string]bool{}
	var out []manifests.ContainerdMirror
	for i := range c.Inv.Registries {
		r := &c.Inv.Registries[i]
		if r.Engine != inventory.EngineDistribution {
			continue
		}
		upstreams := r.Mirrors
		if len(upstreams) == 0 && r.Role == inventory.RegistrySystem {
			var err error
			if upstreams, err = airgap.Upstreams(c.Bundle.Manifest.Images); err != nil {
				return nil, err
			}
		}
		var hosts []string
		if r.VIP != "" {
			hosts = append(hosts, net.JoinHostPort(r.VIP, strconv.Itoa(r.Port)))
		}
		for _, name := range r.Hosts {
			if h := c.Inv.Host(name); h != nil {
				hosts = append(hosts, net.JoinHostPort(h.AddressOn(r.Plane), strconv.Itoa(r.Port)))
			}
		}
		for _, u := range upstreams {
			if seen[u] {
				continue
			}
			seen[u] = true
			out = append(out, manifests.ContainerdMirror{Upstream: u, Registry: r.Name, Hosts: hosts, CAFile: registryCAOnNode})
		}
	}
	return out, nil
}
