package installer

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
)

// drainRemoved cordons the node and drains it with the eviction API (PodDisruptionBudgets honoured, a bounded
// wait), so that its pods start elsewhere before it goes. A node that is not Ready, or that berth cannot reach, is
// not drained: its pods go with its Node.
type drainRemoved struct {
	phase.Base
	r *removal
}

func (p *drainRemoved) Title() string   { return "Drain the node" }
func (p *drainRemoved) Name() string    { return "drain" }
func (p *drainRemoved) ShouldRun() bool { return p.r.drain }

func (p *drainRemoved) Run(ctx context.Context) error {
	r, node := p.r, p.r.o.Node
	how := "evicting, PodDisruptionBudgets honoured"
	if r.o.DisableEviction {
		how = "deleting pods, PodDisruptionBudgets NOT honoured (--disable-eviction)"
	}
	return p.Wet(node, fmt.Sprintf("cordon and drain %s (%s; waits up to %s)", node, how, r.o.DrainTimeout), func() error {
		k, err := r.c.Kube(ctx)
		if err != nil {
			return err
		}
		if _, err := k.Cordon(ctx, node, "node-remove"); err != nil {
			return err
		}
		return k.Drain(ctx, node, kube.DrainOptions{Timeout: r.o.DrainTimeout, DisableEviction: r.o.DisableEviction, Logger: r.c.Log})
	})
}
