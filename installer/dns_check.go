package installer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/berthsh/berth/internal/dnsprobe"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// dnsTargets are the addresses and names berth checks cluster DNS with, derived from the inventory.
type dnsTargets struct {
	Name       string     // kubernetes.default.svc.<domain>: every working DNS server knows it
	APIService netip.Addr // what Name resolves to
	ServiceIP  netip.Addr // the kube-dns Service
}

func newDNSTargets(inv *inventory.Inventory) (dnsTargets, error) {
	api, err := manifests.NthAddress(inv.Kubernetes.ServiceCIDR, 1)
	if err != nil {
		return dnsTargets{}, fmt.Errorf("kubernetes.serviceCIDR: %w", err)
	}
	svc, err := manifests.NthAddress(inv.Kubernetes.ServiceCIDR, 10)
	if err != nil {
		return dnsTargets{}, fmt.Errorf("kubernetes.serviceCIDR: %w", err)
	}
	return dnsTargets{Name: "kubernetes.default.svc." + inv.Kubernetes.ClusterDomain,
		APIService: netip.MustParseAddr(api), ServiceIP: netip.MustParseAddr(svc)}, nil
}

// dnsEndpoint returns where dnsmasq answers on a DNS host: its control-plane address, port 53.
func dnsEndpoint(inv *inventory.Inventory, h *inventory.Host) string {
	return net.JoinHostPort(inv.NodeIP(h), strconv.Itoa(manifests.DNSPort))
}

// dnsBackendEndpoint is where the backend answers, on every DNS host's loopback.
var dnsBackendEndpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(manifests.DNSBackendPort))

// askThrough asks server for t.Name over TCP, the connection opened from via's host through its SSH connection,
// and checks the answer holds the kubernetes Service's address.
func (t dnsTargets) askThrough(ctx context.Context, via remote.Host, server string) (dnsprobe.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	a, err := dnsprobe.Ask(ctx, via.DialContext, "tcp", server, t.Name, dnsmessage.TypeA)
	if err != nil {
		return a, err
	}
	if !a.Has(t.APIService) {
		return a, fmt.Errorf("%s answered %s for %s, not %s", server, a, t.Name, t.APIService)
	}
	return a, nil
}
