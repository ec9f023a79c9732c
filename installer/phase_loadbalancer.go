package installer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// setupLoadBalancer runs keepalived (unicast VRRP holding the VIP on its plane) and haproxy (in front of every API
// server) on each control plane. With an external load balancer there is nothing to do.
type setupLoadBalancer struct {
	phase.Base
	c *Cluster
}

func (p *setupLoadBalancer) Title() string {
	return "Set up the API load balancer (keepalived + haproxy)"
}
func (p *setupLoadBalancer) Name() string { return "load-balancer" }

func (p *setupLoadBalancer) ShouldRun() bool {
	return p.c.Inv.ControlPlane.LoadBalancer.Type == inventory.LBKeepalivedHAProxy
}

// lbFiles renders the load balancer's files for one control plane.
func lbFiles(inv *inventory.Inventory, h *inventory.Host) ([]airgap.File, error) {
	cp := inv.ControlPlane
	cps := inv.ControlPlanes()
	pfx, ok := inv.NetworkPlanes.Prefix(cp.VIPPlane)
	if !ok {
		return nil, fmt.Errorf("plane %s of the VIP has no valid CIDR", cp.VIPPlane)
	}
	nic := h.NICs.Get(cp.VIPPlane)
	if nic == nil {
		return nil, fmt.Errorf("host %s has no NIC on plane %s, where the VIP lives", h.Name, cp.VIPPlane)
	}
	var peers []string
	var backends []manifests.Backend
	priority := 0
	for i, other := range cps {
		if other.Name == h.Name {
			priority = 150 - 10*i
		} else {
			peers = append(peers, other.AddressOn(cp.VIPPlane))
		}
		backends = append(backends, manifests.Backend{Name: other.Name, Address: inv.NodeIP(other)})
	}
	keepalived, err := manifests.KeepalivedConfig(manifests.Keepalived{NodeName: h.Name, Plane: string(cp.VIPPlane),
		Interface: nic.Interface, SourceIP: nic.Address, Peers: peers, VIP: cp.VIP, PrefixLen: pfx.Bits(),
		RouterID: cp.LoadBalancer.VirtualRouterID, Priority: max(priority, 1), CheckScript: keepalivedCheck})
	if err != nil {
		return nil, err
	}
	check, err := manifests.KeepalivedCheck(cp.Port)
	if err != nil {
		return nil, err
	}
	haproxy, err := manifests.HAProxyConfig(manifests.HAProxy{VIP: cp.VIP, Port: cp.Port, APIServerPort: cp.LoadBalancer.APIServerPort, Backends: backends})
	if err != nil {
		return nil, err
	}
	return []airgap.File{
		{Path: keepalivedCheck, Content: check, Mode: 0o755},
		{Path: keepalivedConfig, Content: keepalived, Mode: 0o644},
		{Path: haproxyConfig, Content: haproxy, Mode: 0o644},
	}, nil
}

func (p *setupLoadBalancer) Run(ctx context.Context) error {
	restarted := false
	var mu sync.Mutex
	err := p.Each(ctx, names(p.c.Inv.ControlPlanes()), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		files, err := lbFiles(p.c.Inv, p.c.Inv.Host(host))
		if err != nil {
			return err
		}
		changed, err := airgap.EnsureFiles(ctx, p.Session, host, e, files)
		if err != nil {
			return err
		}
		for _, svc := range []struct {
			name   string
			config string
		}{{"haproxy", haproxyConfig}, {"keepalived", keepalivedConfig}} {
			if err := ensureService(ctx, p.Session, host, e, svc.name, slices.Contains(changed, svc.config)); err != nil {
				return err
			}
		}
		if len(changed) > 0 {
			mu.Lock()
			restarted = true
			mu.Unlock()
		}
		return nil
	})
	if err != nil || !restarted || !p.c.State(p.c.First().Name).Has("admin") {
		return err
	}
	// keepalived was restarted on a running cluster (control planes added or changed): the VIP moves, so wait
	// until the API answers through it again before later phases use it.
	return p.Wait(ctx, "", p.c.APIThroughVIP(2*time.Minute))
}

// APIThroughVIP is the wait for the API's /readyz to answer through the VIP (dialled from the first control plane).
func (c *Cluster) APIThroughVIP(timeout time.Duration) phase.Wait {
	endpoint := c.Inv.APIEndpoint()
	h, err := c.Host(c.First().Name)
	check := phase.Condition(kube.APIReady(endpoint, func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err != nil {
			return nil, err
		}
		return h.DialContext(ctx, network, addr)
	}))
	return phase.Wait{What: "the API to answer through the VIP " + endpoint, Timeout: timeout, Every: 2 * time.Second, Check: check}
}

// ensureService makes a systemd service enabled and running, restarting it when its configuration changed.
func ensureService(ctx context.Context, s *phase.Session, host string, e remote.Host, name string, restart bool) error {
	state, _ := e.Exec(ctx, fmt.Sprintf("echo $(systemctl is-active %s) $(%s)", name, remote.UnitFileState(name)))
	f := strings.Fields(state + " x x")
	if !restart && f[0] == "active" && f[1] == "enabled" {
		return nil
	}
	verb := "start"
	if restart && f[0] == "active" {
		// haproxy and keepalived reload a changed configuration without dropping what they serve: haproxy's old
		// workers finish their connections, keepalived keeps the VIP.
		verb = "reload-or-restart"
	}
	return s.Wet(host, fmt.Sprintf("enable and %s %s", verb, name), func() error {
		_, err := e.Exec(ctx, fmt.Sprintf("%s && systemctl %s %s || { journalctl -u %s -n 30 --no-pager >&2; exit 1; }",
			remote.EnableUnits(name), verb, name, name))
		return err
	})
}

// vipHolder returns which control plane holds the VIP now ("" when none does).
func vipHolder(ctx context.Context, c *Cluster) (string, error) {
	vip, err := netip.ParseAddr(c.Inv.ControlPlane.VIP)
	if err != nil {
		return "", err
	}
	for _, h := range c.Inv.ControlPlanes() {
		e, err := c.Host(h.Name)
		if err != nil {
			return "", err
		}
		out, err := e.Exec(ctx, "ip -o -4 addr show")
		if err != nil {
			continue
		}
		if strings.Contains(out, " "+vip.String()+"/") {
			return h.Name, nil
		}
	}
	return "", nil
}
