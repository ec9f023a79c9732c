package installer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// installCNI applies the pod network (flannel, VXLAN over the pod plane's NICs) from the bundle's image.
type installCNI struct {
	phase.Base
	c *Cluster

	objs    []*unstructured.Unstructured
	changes []applyResult
}

func (p *installCNI) Title() string { return "Install the pod network (flannel)" }
func (p *installCNI) Name() string  { return "cni" }

// probeAddress returns an address of the pod plane that no host, VIP or registry owns: flannel picks, on every
// node, the NIC that routes to it, which is the node's NIC on that plane whatever its interface name.
func probeAddress(inv *inventory.Inventory) (string, error) {
	plane := inv.Kubernetes.PodPlane
	pfx, ok := inv.NetworkPlanes.Prefix(plane)
	if !ok {
		return "", fmt.Errorf("plane %s has no valid CIDR", plane)
	}
	used := map[netip.Addr]bool{}
	mark := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			used[a] = true
		}
	}
	mark(inv.ControlPlane.VIP)
	for _, r := range inv.Registries {
		mark(r.VIP)
	}
	for _, h := range inv.Hosts {
		mark(h.Address)
		for _, p := range inventory.AllPlanes {
			mark(h.AddressOn(p))
		}
	}
	if g := inv.NetworkPlanes.Get(plane); g != nil {
		mark(g.Gateway)
	}
	for a := broadcast(pfx).Prev(); pfx.Contains(a) && a != pfx.Addr(); a = a.Prev() {
		if !used[a] {
			return a.String(), nil
		}
	}
	return "", fmt.Errorf("plane %s (%s) has no free address", plane, pfx)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func (p *installCNI) Prepare(ctx context.Context) error {
	image, err := airgap.ImageRef(p.c.Bundle.Manifest, "flannel")
	if err != nil {
		return err
	}
	probe, err := probeAddress(p.c.Inv)
	if err != nil {
		return err
	}
	y, err := manifests.FlannelManifests(manifests.Flannel{Image: image, PodCIDR: p.c.Inv.Kubernetes.PodCIDR,
		Plane: string(p.c.Inv.Kubernetes.PodPlane), IfaceCanReach: probe})
	if err != nil {
		return err
	}
	if p.objs, err = objects(y); err != nil {
		return err
	}
	p.changes, err = p.c.diffObjects(ctx, p.objs)
	return err
}

// diffObjects tells, for each object, whether applying it would change the cluster (all of them, before the
// cluster exists).
func (c *Cluster) diffObjects(ctx context.Context, objs []*unstructured.Unstructured) ([]applyResult, error) {
	k, err := c.Kube(ctx)
	if errors.Is(err, errNoCluster) {
		out := make([]applyResult, len(objs))
		for i, o := range objs {
			out[i] = applyResult{Object: describeObject(o), Created: true, Changed: true}
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]applyResult, len(objs))
	for i, o := range objs {
		if out[i], err = k.diff(ctx, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *installCNI) ShouldRun() bool { return anyChanged(p.changes) }

func anyChanged(rs []applyResult) bool {
	for _, r := range rs {
		if r.Changed {
			return true
		}
	}
	return false
}

// applyChanged applies the objects whose diff showed a change, through the gate, describing them.
func (c *Cluster) applyChanged(ctx context.Context, s *phase.Session, what string, objs []*unstructured.Unstructured, changes []applyResult) error {
	var parts []string
	for _, r := range changes {
		if r.Changed {
			verb := "update"
			if r.Created {
				verb = "create"
			}
			parts = append(parts, verb+" "+r.Object)
		}
	}
	return s.Wet("", what+": "+strings.Join(parts, ", "), func() error {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		for i, o := range objs {
			if changes[i].Changed {
				if err := k.apply(ctx, o); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (p *installCNI) Run(ctx context.Context) error {
	return p.c.applyChanged(ctx, p.Session, "apply the flannel manifests", p.objs, p.changes)
}
