package installer

import (
	"context"
	"fmt"
	"time"

	"github.com/berthsh/berth/internal/phase"
)

// Where a removed control plane's static pod manifests go when its control plane stops (reset removes them).
const removedManifests = "/etc/kubernetes/berth-removed"

// leaveEtcd takes a control plane's member out of etcd with the cluster serving throughout: etcd's leadership is
// handed to another member first, the node's API server, controller manager and scheduler stop (the API server
// finishes the requests it holds and closes its connections, so their clients reconnect through the VIP to another
// one), then the member is removed while it still runs, so that etcd never counts a member that is down (with two
// members, stopping one first would lose the quorum). The check refused the removal if the members left could not
// keep a healthy quorum.
type leaveEtcd struct {
	phase.Base
	r *removal

	stopStatic bool
}

func (p *leaveEtcd) Title() string { return "Take the control plane's member out of etcd" }
func (p *leaveEtcd) Name() string  { return "leave-etcd" }

func (p *leaveEtcd) Prepare(ctx context.Context) error {
	p.stopStatic = p.r.host != nil && p.r.c.State(p.r.o.Node).Has("apiserver")
	return nil
}

func (p *leaveEtcd) ShouldRun() bool { return p.r.member != nil }

func (p *leaveEtcd) Run(ctx context.Context) error {
	r, c, node := p.r, p.r.c, p.r.o.Node
	m := *r.member
	all, err := c.etcdAt(ctx, r.endpoints)
	if err != nil {
		return err
	}
	defer all.Close()
	for _, ep := range m.ClientURLs {
		if err := handOff(ctx, p.Session, all, node, ep); err != nil {
			return err
		}
	}
	if p.stopStatic {
		e, err := c.Host(node)
		if err != nil {
			return err
		}
		script := fmt.Sprintf(`mkdir -p %[1]s
for m in kube-apiserver kube-controller-manager kube-scheduler; do
  if [ -f %[2]s/$m.yaml ]; then mv -f %[2]s/$m.yaml %[1]s/$m.yaml; fi
done
for i in $(seq 1 120); do pgrep -x kube-apiserver >/dev/null || exit 0; sleep 1; done
echo "the API server on %[3]s did not stop within 2 minutes" >&2; exit 1`, removedManifests, manifestsDir, node)
		if err := p.Wet(node, "stop the API server, controller manager and scheduler on "+node+" (static pod manifests moved to "+removedManifests+
			"); the API server finishes its requests", func() error {
			_, err := e.Exec(ctx, script)
			return err
		}); err != nil {
			return err
		}
	}
	if err := p.Wet("", fmt.Sprintf("remove etcd member %s (%s)", m.HexID(), node), func() error {
		e, err := c.Etcd(ctx) // the members that stay
		if err != nil {
			return err
		}
		defer e.Close()
		return e.RemoveMember(ctx, m.ID)
	}); err != nil {
		return err
	}
	return p.Wait(ctx, "", c.EtcdHealthy(3*time.Minute))
}
