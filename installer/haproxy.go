package installer

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// haproxySocket is the admin socket of the haproxy berth runs on each control plane (manifests' haproxy.cfg).
const haproxySocket = "/run/haproxy/admin.sock"

// apiBackend is haproxy's backend of API servers (manifests' haproxy.cfg).
const apiBackend = "kubernetes_apiservers"

// Backend states of SetAPIBackend.
const (
	BackendMaint = "maint" // out of rotation: no new connection goes to the API server, and those open are closed
	BackendReady = "ready" // back in rotation
)

// SetAPIBackend sets an API server's state in the haproxy of every control plane of the cluster's inventory:
// BackendMaint takes it out of rotation: no new connection goes to it, and the connections open through haproxy to
// it are closed at once. A client's keep-alive connection would otherwise stay on that API server while what it
// stands on goes away under it (its etcd member restarting in an upgrade, or removed by node remove), and its
// requests would fail or hang; closed, a client reconnects through another API server (HTTP clients send an
// idempotent request again when a reused connection closes under it). BackendReady puts it back. With an external load balancer there
// is nothing berth can do, and nothing is done. The change goes through the gate; it is not kept across a haproxy
// restart or reload, which puts every server of its configuration back. The upgrade and the certificate renewal take
// each control plane out before restarting its API server; node removal before removing it.
func SetAPIBackend(ctx context.Context, s *phase.Session, c *Cluster, host, state string) error {
	if c.Inv.ControlPlane.LoadBalancer.Type != inventory.LBKeepalivedHAProxy {
		return nil
	}
	action := "take " + host + " out of every control plane's haproxy (no new API connection goes to it, open ones are closed)"
	if state == BackendReady {
		action = "put " + host + " back into every control plane's haproxy"
	}
	return setAPIBackendOn(ctx, s, c, names(c.Inv.ControlPlanes()), host, state, action)
}

// setAPIBackendOn sets an API server's state in the haproxy of the given hosts, through the gate, as action.
func setAPIBackendOn(ctx context.Context, s *phase.Session, c *Cluster, on []string, host, state, action string) error {
	command := backendCommand(host, state)
	cmd := fmt.Sprintf("echo %s | socat -t 5 - UNIX-CONNECT:%s", remote.Quote(command), haproxySocket)
	return s.Wet("", action, func() error {
		return phase.ParallelEach(ctx, 0, on, func(h string) string { return h },
			func(ctx context.Context, h string) error {
				e, err := c.Host(h)
				if err != nil {
					return err
				}
				out, err := e.Exec(ctx, cmd)
				if err != nil {
					return fmt.Errorf("haproxy: %w", err)
				}
				if out != "" { // haproxy answers nothing when it accepts the command
					return fmt.Errorf("haproxy refused %q: %s", command, out)
				}
				return nil
			})
	})
}

// backendCommand is the line of haproxy's admin socket that sets an API server's state (SetAPIBackend): out of
// rotation with its open connections closed (BackendMaint), or back in rotation. haproxy answers nothing to either
// when it accepts it.
func backendCommand(host, state string) string {
	server := apiBackend + "/" + host
	if state == BackendMaint {
		return "set server " + server + " state maint; shutdown sessions server " + server
	}
	return "set server " + server + " state " + state
}
