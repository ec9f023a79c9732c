package installer

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// installCNI applies the pod network (flannel, VXLAN over the pod plane's NICs) from the bundle's image.
type installCNI struct{ addOn }

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
		Plane: string(p.c.Inv.Kubernetes.PodPlane), IfaceCanReach: probe, PullPolicy: p.c.pullPolicy(image)})
	if err != nil {
		return err
	}
	return p.diff(ctx, y)
}
