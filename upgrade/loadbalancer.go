package upgrade

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// haproxySocket is the admin socket of the haproxy berth runs on each control plane.
const haproxySocket = "/run/haproxy/admin.sock"

// apiBackend is haproxy's backend of API servers (manifests' haproxy.cfg).
const apiBackend = "kubernetes_apiservers"

// setBackend sets an API server's state in every control plane's haproxy: "maint" takes it out of rotation (no new
// connection goes to it), "ready" puts it back. With an external load balancer there is nothing berth can do, and
// nothing is done. The change goes through the gate; it is not kept across a haproxy restart, which puts every
// server back, as its configuration says.
func (r *run) setBackend(ctx context.Context, s *phase.Session, host, state string) error {
	inv := r.o.Inventory
	if inv.ControlPlane.LoadBalancer.Type != inventory.LBKeepalivedHAProxy {
		return nil
	}
	action := "take " + host + " out of every control plane's haproxy (no new API connection goes to it)"
	if state == "ready" {
		action = "put " + host + " back into every control plane's haproxy"
	}
	cmd := fmt.Sprintf("echo %s | socat -t 5 - UNIX-CONNECT:%s", remote.Quote(fmt.Sprintf("set server %s/%s state %s", apiBackend, host, state)), haproxySocket)
	return s.Wet("", action, func() error {
		return phase.ParallelEach(ctx, 0, inv.ControlPlanes(), func(h *inventory.Host) string { return h.Name },
			func(ctx context.Context, h *inventory.Host) error {
				e, err := r.c.Host(h.Name)
				if err != nil {
					return err
				}
				out, err := e.Exec(ctx, cmd)
				if err != nil {
					return fmt.Errorf("haproxy: %w", err)
				}
				if out != "" { // haproxy answers nothing when it accepts the command
					return fmt.Errorf("haproxy refused %q: %s", "set server "+apiBackend+"/"+host+" state "+state, out)
				}
				return nil
			})
	})
}
