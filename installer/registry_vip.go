package installer

import (
	"context"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/pki"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/manifests"
)

// A registry's VIP is held by keepalived on one of the registry's hosts whose registry answers: one keepalived
// process per registry VIP (unit berth-registry-<name>-keepalived), apart from the API's keepalived on control planes, so
// that a host can run both and neither restarts for the other.

// vipPackage is the Debian package that holds VIPs; a registry-only host that holds a VIP gets its closure.
const vipPackage = "keepalived"

func (ri registryInstance) vipUnit() string {
	return "berth-registry-" + ri.reg.Name + "-keepalived.service"
}

func (ri registryInstance) vipConfigPath() string { return path.Join(ri.dir(), "keepalived.conf") }

func (ri registryInstance) vipCheckPath() string { return path.Join(ri.dir(), "vip-check.sh") }

// vipAddr is the registry's VIP with its port: where clients pull.
func (ri registryInstance) vipAddr() string {
	return net.JoinHostPort(ri.reg.VIP, strconv.Itoa(ri.reg.Port))
}

// nonNodePackages returns the bundle's packages (by name) a host that is no node needs: keepalived's closure
// where it holds a registry VIP, nftables' where berth's firewall runs. Nodes get every package of the bundle.
func (c *Cluster) nonNodePackages(host string) ([]string, error) {
	var want []string
	for _, ri := range c.registryInstances() {
		if ri.host.Name == host && ri.reg.VIP != "" && !slices.Contains(want, vipPackage) {
			want = append(want, vipPackage)
		}
	}
	if c.Inv.Firewall != nil && c.Inv.Firewall.Enabled {
		want = append(want, firewallPackage)
	}
	if len(want) == 0 {
		return nil, nil
	}
	pkgs, err := airgap.PackageClosure(c.Bundle.Manifest, want...)
	if err != nil {
		return nil, fmt.Errorf("host %s, which is no node, needs %s: %w", host, strings.Join(want, " and "), err)
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	return names, nil
}

// registryVIPFiles are the files of an instance's keepalived: its configuration (unicast VRRP with the registry's
// other hosts on its plane), the health script (the registry's plane listener accepts connections) and the unit.
func (c *Cluster) registryVIPFiles(ri registryInstance) ([]airgap.File, error) {
	r := ri.reg
	pfx, ok := c.Inv.NetworkPlanes.Prefix(r.Plane)
	if !ok {
		return nil, fmt.Errorf("plane %s of registry %s has no valid CIDR", r.Plane, r.Name)
	}
	nic := ri.host.NICs.Get(r.Plane)
	if nic == nil {
		return nil, fmt.Errorf("host %s has no NIC on plane %s, where registry %s and its VIP live", ri.host.Name, r.Plane, r.Name)
	}
	var peers []string
	priority := 0
	for i, name := range r.Hosts {
		if name == ri.host.Name {
			priority = 150 - 10*i
		} else if h := c.Inv.Host(name); h != nil {
			peers = append(peers, h.AddressOn(r.Plane))
		}
	}
	name := "registry_" + strings.ReplaceAll(r.Name, "-", "_")
	conf, err := manifests.KeepalivedConfig(manifests.Keepalived{For: "the VIP of registry " + r.Name, Name: name, Check: name + "_up",
		NodeName: ri.host.Name, Plane: string(r.Plane), Interface: nic.Interface, SourceIP: nic.Address, Peers: peers,
		VIP: r.VIP, PrefixLen: pfx.Bits(), RouterID: r.VirtualRouterID, Priority: max(priority, 1), CheckScript: ri.vipCheckPath()})
	if err != nil {
		return nil, err
	}
	check, err := manifests.TCPCheck("registry "+r.Name, nic.Address, r.Port)
	if err != nil {
		return nil, err
	}
	unit, err := manifests.RegistryVIPUnit(r.Name, r.VIP, ri.vipConfigPath(), ri.unitName(""))
	if err != nil {
		return nil, err
	}
	return []airgap.File{
		{Path: ri.vipCheckPath(), Content: check, Mode: 0o755},
		{Path: ri.vipConfigPath(), Content: conf, Mode: 0o644},
		{Path: path.Join("/etc/systemd/system", ri.vipUnit()), Content: unit, Mode: 0o644},
	}, nil
}

// vip starts or reloads an instance's keepalived; its files were written with the instance's (changed lists what
// changed on the host).
func (p *setupRegistries) vip(ctx context.Context, e remote.Host, ri registryInstance, changed []string) error {
	restart := slices.ContainsFunc(changed, func(f string) bool {
		return f == ri.vipConfigPath() || f == ri.vipCheckPath() || strings.HasSuffix(f, "/"+ri.vipUnit())
	})
	return ensureService(ctx, p.Session, ri.host.Name, e, strings.TrimSuffix(ri.vipUnit(), ".service"), restart)
}

// waitVIPs waits until every registry VIP answers, dialled from one of the registry's hosts.
func (p *setupRegistries) waitVIPs(ctx context.Context, ca *pki.CA) error {
	if p.IsDryRun() {
		return nil
	}
	done := map[string]bool{}
	for _, ri := range p.c.registryInstances() {
		if ri.reg.VIP == "" || done[ri.reg.Name] {
			continue
		}
		done[ri.reg.Name] = true
		tr, err := p.c.registryTransport(ri.host.Name, ca)
		if err != nil {
			return err
		}
		err = p.Wait(ctx, "", phase.Wait{What: "registry " + ri.reg.Name + " to answer on its VIP " + ri.vipAddr(), Timeout: registryWait,
			Every: time.Second, Check: registryAnswers(tr, ri.vipAddr())})
		tr.CloseIdleConnections()
		if err != nil {
			return err
		}
	}
	return nil
}

// registryOnlyPackages installs, on a registry host that is no node, the bundle's packages it needs (keepalived's
// closure for a VIP), and keeps the packaged keepalived service disabled: berth runs its own units.
func (p *setupRegistries) registryOnlyPackages(ctx context.Context, host string, e remote.Host) error {
	pkgs, err := p.c.nonNodePackages(host)
	if err != nil || len(pkgs) == 0 {
		return err
	}
	if _, err := p.c.InstallPackages(ctx, p.Session, host); err != nil {
		return err
	}
	if out, _ := e.Exec(ctx, "systemctl is-enabled keepalived 2>/dev/null || true"); strings.TrimSpace(out) == "enabled" {
		return p.Wet(host, "disable the packaged keepalived service (berth runs keepalived per registry VIP)", func() error {
			_, err := e.Exec(ctx, "systemctl disable --now keepalived")
			return err
		})
	}
	return nil
}

// nonlocalBindFile lets a registry host's listeners bind to their registry's VIP while another host holds it.
const nonlocalBindFile = "/etc/sysctl.d/90-berth-registry-vip.conf"

// nonlocalBind makes sure the host lets processes bind to an address it does not hold (net.ipv4.ip_nonlocal_bind),
// now and after a reboot: a registry's VIP listeners listen on every host of the registry, and answer where
// keepalived puts the VIP.
func nonlocalBind(ctx context.Context, s *phase.Session, host string, e remote.Host) error {
	if _, err := airgap.EnsureFiles(ctx, s, host, e, []airgap.File{{Path: nonlocalBindFile, Content: []byte("net.ipv4.ip_nonlocal_bind = 1\n")}}); err != nil {
		return err
	}
	if out, _ := e.Exec(ctx, "cat /proc/sys/net/ipv4/ip_nonlocal_bind"); strings.TrimSpace(out) == "1" {
		return nil
	}
	return s.Wet(host, "let the registry listen on its VIP while another host holds it (net.ipv4.ip_nonlocal_bind=1)", func() error {
		_, err := e.Exec(ctx, "sysctl -q -p "+nonlocalBindFile)
		return err
	})
}

// listening is the check that something listens on addr (host:port) on the host.
func listening(e remote.Host, addr string) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		out, err := e.Exec(ctx, "ss -Htln | awk '{print $4}'")
		if err != nil {
			return false, err.Error(), nil
		}
		if slices.Contains(strings.Fields(out), addr) {
			return true, "", nil
		}
		return false, "nothing listens on " + addr, nil
	}
}
