package installer

import (
	"context"
	"time"

	"github.com/berthsh/berth/internal/phase"
)

// settleWait bounds each wait after a removal.
const settleWait = 5 * time.Minute

// settleRemoval waits until the cluster that stays is whole: the API answering through the VIP, every etcd member
// healthy, every node that stays Ready. It is the removal's last phase and always runs: once the journal records
// it, the removal finished, and the same command run again starts afresh (and finds nothing to do).
type settleRemoval struct {
	phase.Base
	r *removal
}

func (p *settleRemoval) Title() string { return "Wait until the cluster that stays is whole" }
func (p *settleRemoval) Name() string  { return "settle" }

func (p *settleRemoval) Run(ctx context.Context) error {
	c := p.r.c
	waits := []phase.Wait{c.APIThroughVIP(settleWait)}
	if p.r.plan != nil && p.r.plan.ControlPlane {
		waits = append(waits, c.EtcdHealthy(settleWait))
	}
	nodes := names(c.Inv.Nodes())
	waits = append(waits, phase.Wait{What: "every node that stays Ready", Timeout: settleWait, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			k, err := c.Kube(ctx)
			if err != nil {
				return false, "", err
			}
			return k.NodesReady(nodes)(ctx)
		}})
	for _, w := range waits {
		if err := p.Wait(ctx, "", w); err != nil {
			return err
		}
	}
	return nil
}
