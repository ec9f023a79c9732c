package installer

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/internal/remote"
)

// Where the firewall's state lives on a host, next to its rules.
const (
	firewallApplied  = "/etc/berth/firewall.applied" // digest of the table as loaded (counters left out)
	firewallRollback = "berth-firewall-rollback"     // the timer that removes a table that shut berth out
	firewallGrace    = "120"                         // seconds before that timer fires
	firewallPackage  = "nftables"                    // the bundle's package that brings nft
)

// firewallUnit loads the rules at boot, before the network is up.
var firewallUnit = []byte(`[Unit]
Description=berth's host firewall (table ` + planes.FirewallTable + `; docs/planes.md)
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ` + planes.FirewallPath + `

[Install]
WantedBy=sysinit.target
`)

// firewallState is what a host's firewall looks like now: the listing of berth's table as a digest with its
// counters left out, so that a table someone flushed, edited or deleted shows as changed.
const firewallState = `src=${SSH_CONNECTION%% *}
if command -v nft >/dev/null; then
  if nft list table ` + planes.FirewallTable + ` >/dev/null 2>&1; then
    echo "live $(nft list table ` + planes.FirewallTable + ` | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/' | sha256sum | cut -c1-64)"
  else echo "live none"; fi
else echo "live no-nft"; fi
echo "applied $(cat ` + firewallApplied + ` 2>/dev/null || echo none)"
echo "unit $(systemctl is-enabled ` + planes.FirewallUnit + ` 2>/dev/null || echo none)"`

// firewallLoad checks the rules, arms the timer that takes them away again unless berth disarms it, loads them in
// one transaction, and records the digest of what the kernel holds.
const firewallLoad = `set -e
nft -c -f ` + planes.FirewallPath + `
systemctl stop ` + firewallRollback + `.timer >/dev/null 2>&1 || true
systemctl reset-failed ` + firewallRollback + `.service >/dev/null 2>&1 || true
systemd-run --quiet --unit=` + firewallRollback + ` --on-active=` + firewallGrace + ` /usr/sbin/nft delete table ` + planes.FirewallTable + `
nft -f ` + planes.FirewallPath + `
nft list table ` + planes.FirewallTable + ` | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/' | sha256sum | cut -c1-64 > ` + firewallApplied + `
`

// firewallRemove takes berth's table and its files away (the inventory turned the firewall off, or reset).
const firewallRemove = `systemctl stop ` + firewallRollback + `.timer >/dev/null 2>&1
systemctl disable ` + planes.FirewallUnit + ` >/dev/null 2>&1
rm -f ` + planes.FirewallUnitPath + ` ` + planes.FirewallPath + ` ` + firewallApplied + `
if command -v nft >/dev/null; then nft delete table ` + planes.FirewallTable + ` >/dev/null 2>&1; fi
true`

// hostFirewall is what the firewall phase found on one host.
type hostFirewall struct {
	source  netip.Addr // where berth's SSH comes from, as the host sees it
	live    string     // digest of the table now; "none" when there is none, "no-nft" without nft
	applied string     // digest recorded when berth last loaded it
	unit    string     // the boot unit's state
}

// current reports whether the table is loaded exactly as berth last left it.
func (f hostFirewall) current() bool {
	return f.live != "none" && f.live != "no-nft" && f.live == f.applied && f.unit == "enabled"
}

// setupFirewall writes and loads berth's host firewall on every host (docs/planes.md): each plane's NIC accepts
// only that plane's services, and pods reach no management or control address but the API and cluster DNS. A
// load that would shut berth out is undone: a timer on the host removes the table unless berth, logging in anew,
// disarms it. With the firewall off in the inventory, the phase removes a table berth loaded before.
type setupFirewall struct {
	phase.Base
	c *Cluster

	found map[string]hostFirewall
}

func (p *setupFirewall) Title() string { return "Load the host firewall of every host (nftables)" }
func (p *setupFirewall) Name() string  { return "firewall" }

// Recheck: every install checks the firewall again, even when its journal says the phase finished, and loads a
// table that someone flushed or edited since. Reading it costs one command per host.
func (p *setupFirewall) Recheck() bool { return true }

func (p *setupFirewall) enabled() bool { return p.c.Inv.Firewall != nil && p.c.Inv.Firewall.Enabled }

func (p *setupFirewall) Prepare(ctx context.Context) error {
	p.found = map[string]hostFirewall{}
	nftInBundle := p.c.Bundle != nil && slices.ContainsFunc(p.c.Bundle.Manifest.Packages, func(pk bundles.Package) bool { return pk.Name == firewallPackage })
	for _, name := range p.c.allHosts() {
		e, err := p.c.Host(name)
		if err != nil {
			return err
		}
		out, err := e.Exec(ctx, firewallState)
		if err != nil {
			return fmt.Errorf("read the firewall of %s: %w", name, err)
		}
		f := parseFirewallState(out)
		// The login user's environment names the address berth connects from; through sudo it is gone, so ask
		// without it.
		if r, err := e.Run(ctx, remote.Cmd{Command: `printf '%s' "${SSH_CONNECTION%% *}"`, NoSudo: true}); err == nil {
			if a, err := netip.ParseAddr(strings.TrimSpace(r.Stdout)); err == nil {
				f.source = a.Unmap()
			}
		}
		if p.enabled() && f.live == "no-nft" && !nftInBundle {
			return fmt.Errorf("host %s has no nft and the bundle carries no nftables package: add nftables to the os "+
				"packages of the bundle spec, install it on the host, or set firewall.enabled: false", name)
		}
		p.found[name] = f
	}
	return nil
}

func (p *setupFirewall) ShouldRun() bool {
	for _, f := range p.found {
		if p.enabled() || f.live != "none" && f.live != "no-nft" || f.unit != "none" {
			return true
		}
	}
	return false
}

func (p *setupFirewall) Run(ctx context.Context) error {
	return p.Each(ctx, p.c.allHosts(), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		f := p.found[host]
		if !p.enabled() {
			if f.live == "none" || f.live == "no-nft" {
				if f.unit == "none" {
					return nil
				}
			}
			return p.Wet(host, "remove the host firewall (firewall.enabled is false)", func() error {
				_, err := e.Exec(ctx, firewallRemove)
				return err
			})
		}
		if h := p.c.Inv.Host(host); h != nil && (!h.IsNode() || f.live == "no-nft") {
			// Nodes get nft with every package of the bundle (os), a host that is no node gets it here, and so does a
			// node the os phase has not prepared yet (berth install phase firewall on its own).
			if _, err := p.c.InstallPackages(ctx, p.Session, host); err != nil {
				return err
			}
		}
		rules, err := p.c.firewallRules(host, f.source)
		if err != nil {
			return err
		}
		changed, err := airgap.EnsureFiles(ctx, p.Session, host, e, []airgap.File{
			{Path: planes.FirewallPath, Content: rules, Mode: 0o600},
			{Path: planes.FirewallUnitPath, Content: firewallUnit, Mode: 0o644}})
		if err != nil {
			return err
		}
		if len(changed) == 0 && f.current() {
			return nil
		}
		why := "changed rules"
		if len(changed) == 0 {
			why = "the table differs from what berth loaded (flushed or edited): load it again"
			if f.live == "none" {
				why = "the table is gone: load it again"
			}
		}
		return p.Wet(host, fmt.Sprintf("load table %s from %s (%s)", planes.FirewallTable, planes.FirewallPath, why), func() error {
			return p.load(ctx, host, e)
		})
	})
}

// load loads the rules on one host and proves that berth can still log in; otherwise the rules are taken away
// again and the error says why.
func (p *setupFirewall) load(ctx context.Context, host string, e remote.Host) error {
	if out, err := e.Exec(ctx, firewallLoad); err != nil {
		return fmt.Errorf("host %s: load the firewall: %w\n%s", host, err, out)
	}
	if err := p.c.Pool.LoginAgain(ctx, host); err != nil {
		_, rerr := e.Exec(ctx, firewallRemove)
		return fmt.Errorf("host %s: with the firewall loaded, berth could not log in again (%v), so berth removed it "+
			"again (removal: %v). Add the subnet berth connects from to firewall.sshFrom, or check that the host's "+
			"address is on its management NIC", host, err, rerr)
	}
	_, err := e.Exec(ctx, remote.EnableUnits(planes.FirewallUnit)+" && systemctl stop "+firewallRollback+".timer >/dev/null 2>&1; true")
	return err
}

// parseFirewallState reads what firewallState printed; what it lacks counts as none.
func parseFirewallState(out string) hostFirewall {
	f := hostFirewall{live: "none", applied: "none", unit: "none"}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if v == "" {
			continue
		}
		switch k {
		case "live":
			f.live = v
		case "applied":
			f.applied = v
		case "unit":
			f.unit = v
		}
	}
	return f
}

// firewallRules renders the rules of one host.
func (c *Cluster) firewallRules(host string, source netip.Addr) ([]byte, error) {
	t, err := newDNSTargets(c.Inv)
	if err != nil {
		return nil, err
	}
	in := planes.FirewallInput{APIService: t.APIService, DNSService: t.ServiceIP}
	if source.IsValid() && source.Is4() {
		in.SSHSources = []netip.Addr{source}
	}
	fw, err := planes.HostFirewall(c.Inv, c.Inv.Host(host), in)
	if err != nil {
		return nil, err
	}
	return fw.Render(), nil
}
