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
// client is left on it while its etcd member goes), then its keepalived stopped, which hands the VIP to another control plane at once when it holds it
// (keepalived's last advertisement gives up the VIP), and its haproxy stopped once the VIP answers elsewhere.
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
	if p.stopKeepalived {
		if err := p.Wet(node, "stop keepalived on "+node+" (when it holds the VIP, the VIP moves to another control plane)", func() error {
			_, err := e.Exec(ctx, "systemctl stop keepalived")
			return err
		}); err != nil {
			return err
		}
		if err := p.Wait(ctx, node, p.vipElsewhere()); err != nil {
			return err
		}
	}
	if p.stopHAProxy {
		return p.Wet(node, "stop haproxy on "+node, func() error {
			_, err := e.Exec(ctx, "systemctl stop haproxy")
			return err
		})
	}
	return nil
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
