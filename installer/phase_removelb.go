package installer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// vipMoveWait bounds the wait for the VIP to answer from another control plane once the node's keepalived stopped.
const vipMoveWait = 2 * time.Minute

// leaveLoadBalancer takes a control plane out of the API's load balancer before anything stops on it: out of the
// haproxy of every control plane (no new connection goes to its API server, and those open are closed, so that no
// client is left on it while its etcd member goes), then its keepalived stopped, which hands the VIP to another
// control plane at once when it holds it (keepalived's last advertisement gives up the VIP), and its haproxy stopped
// once the VIP answers elsewhere.
type leaveLoadBalancer struct {
	phase.Base
	r *removal

	maintOn        []string // haproxies that still send to the node
	stopKeepalived bool
	stopHAProxy    bool
}

func (p *leaveLoadBalancer) Title() string {
	return "Take the control plane out of the API's load balancer"
}
func (p *leaveLoadBalancer) Name() string { return "leave-load-balancer" }

func (p *leaveLoadBalancer) Prepare(ctx context.Context) error {
	r, c, node := p.r, p.r.c, p.r.o.Node
	if r.plan == nil || !r.plan.ControlPlane || c.Inv.ControlPlane.LoadBalancer.Type != inventory.LBKeepalivedHAProxy {
		return nil
	}
	hosts := names(c.Inv.ControlPlanes())
	if r.host != nil {
		hosts = append(hosts, node)
	}
	// A haproxy whose configuration no longer names the node (a finished removal) has nothing to take out.
	read := fmt.Sprintf("if systemctl is-active --quiet haproxy && grep -Eq '^ *server %s ' %s; then echo serves; fi; echo keepalived $(systemctl is-active keepalived)",
		remote.Quote(node), haproxyConfig)
	var mu sync.Mutex
	return phase.ParallelEach(ctx, 0, hosts, func(h string) string { return h }, func(ctx context.Context, host string) error {
		e, err := c.Host(host)
		if err != nil {
			return err
		}
		out, err := e.Exec(ctx, read)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		serves := strings.Contains(out, "serves")
		if serves {
			p.maintOn = append(p.maintOn, host)
		}
		if host == node {
			p.stopKeepalived = strings.Contains(out, "keepalived active")
			p.stopHAProxy = serves
		}
		return nil
	})
}

func (p *leaveLoadBalancer) ShouldRun() bool {
	return len(p.maintOn) > 0 || p.stopKeepalived || p.stopHAProxy
}

func (p *leaveLoadBalancer) Run(ctx context.Context) error {
	c, node := p.r.c, p.r.o.Node
	if len(p.maintOn) > 0 {
		if err := setAPIBackendOn(ctx, p.Session, c, p.maintOn, node, BackendMaint,
			"take "+node+" out of the haproxy of "+strings.Join(p.maintOn, ", ")+" (no new API connection goes to it)"); err != nil {
			return err
		}
	}
	e, err := c.Host(node)
	if (p.stopKeepalived || p.stopHAProxy) && err != nil {
		return err
	}
	vip := c.Inv.ControlPlane.VIP
	if p.stopKeepalived {
		if err := p.Wet(node, "stop keepalived on "+node+" (when it holds the VIP, the VIP moves to another control plane; "+node+
			" keeps it on its loopback, unannounced, until its haproxy stops, so that answers in flight still reach their clients)", func() error {
			_, err := e.Exec(ctx, vipHandOver(vip, vipHandoverFile)+"systemctl stop keepalived")
			return err
		}); err != nil {
			return err
		}
		if err := p.Wait(ctx, node, p.vipElsewhere()); err != nil {
			return err
		}
	}
	if p.stopHAProxy {
		return p.Wet(node, "stop haproxy on "+node+" once every client has heard where the VIP is now", func() error {
			select { // the new holder announces the VIP over vipAnnounced
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(vipAnnounced):
			}
			_, err := e.Exec(ctx, "systemctl stop haproxy && "+vipHandedOver(vip, vipHandoverFile))
			return err
		})
	}
	return nil
}

// vipAnnounced is how long a new VIP holder takes to announce it twice (keepalived.conf: five announcements 0.25 s
// apart, and again 1 s later), with a margin: by then every client's kernel sends to the new holder.
const vipAnnounced = 3 * time.Second

// vipHandoverFile keeps, on a control plane that gives up the VIP, the ARP settings it had before (removed with the
// VIP from its loopback).
const vipHandoverFile = "/run/berth-vip-handover"

// vipHandOver is the shell that lets a control plane holding the VIP give it up without losing the answers in flight
// through its haproxy: once keepalived removes the VIP from its NIC, its sockets could no longer send from the VIP,
// and a client whose request was already taken would wait for an answer that never comes. The VIP also goes on the
// loopback, where it stays local, and the host stops answering ARP for addresses of other interfaces (arp_ignore=1)
// and uses its own address in its ARP requests (arp_announce=2), so that it never competes with the new holder.
// A control plane that does not hold the VIP is left as it is.
func vipHandOver(vip, file string) string {
	return fmt.Sprintf(`if ip -o -4 addr show | grep -q ' %[1]s/'; then
  [ -f %[2]s ] || echo "$(sysctl -n net.ipv4.conf.all.arp_ignore) $(sysctl -n net.ipv4.conf.all.arp_announce)" > %[2]s
  sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  ip addr replace %[1]s/32 dev lo
fi
`, vip, file)
}

// vipHandedOver undoes vipHandOver once the host's haproxy stopped: the VIP off the loopback, the ARP settings as
// they were.
func vipHandedOver(vip, file string) string {
	return fmt.Sprintf(`{ ip addr del %[1]s/32 dev lo 2>/dev/null || true; }; if [ -f %[2]s ]; then read i a < %[2]s; `+
		`sysctl -qw net.ipv4.conf.all.arp_ignore=$i net.ipv4.conf.all.arp_announce=$a && rm -f %[2]s; fi`, vip, file)
}

// vipElsewhere is the wait for the VIP to be held by a control plane that stays and the API to answer through it.
func (p *leaveLoadBalancer) vipElsewhere() phase.Wait {
	c, node := p.r.c, p.r.o.Node
	api := c.APIThroughVIP(vipMoveWait)
	return phase.Wait{What: "the VIP on a control plane other than " + node + " and the API answering through it", Timeout: vipMoveWait,
		Every: 500 * time.Millisecond, Check: func(ctx context.Context) (bool, string, error) {
			holder, err := vipHolder(ctx, c)
			if err != nil {
				return false, err.Error(), nil
			}
			if holder == "" {
				return false, "no control plane holds the VIP yet", nil
			}
			return api.Check(ctx)
		}}
}
