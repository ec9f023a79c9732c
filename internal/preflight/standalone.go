package preflight

import (
	"context"
	"errors"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// RunOptions configure a preflight run on its own (berth preflight).
type RunOptions struct {
	Options                    // what to check and how strictly; Connect defaults to Pool
	Observers []phase.Observer // runner events (host progress, each result as a log line)
	DryRun    bool             // run under the runner's dry-run gate; preflight never needs the gate, so the plan stays empty
	Pool      *remote.Pool     // connections to the inventory's hosts, used when Connect is nil
}

// Run checks the hosts through a phase runner, so observers see the same events an install shows. Failed checks
// are in the Report (Report.Failed); the error is for a preflight that could not run. The plan is the dry-run
// gate's record, empty unless something tried to change a host.
func Run(ctx context.Context, o RunOptions) (*Report, *phase.Plan, error) {
	if o.Connect == nil {
		if o.Pool == nil {
			return nil, nil, errors.New("preflight: a pool of connections or a way to connect is required")
		}
		o.Connect = func(name string) (Host, error) {
			e, err := o.Pool.Get(name)
			if err != nil {
				return nil, err
			}
			return e, nil
		}
	}
	p := &Phase{Options: o.Options}
	rep, err := phase.New(phase.Options{Action: "preflight", Logger: o.Logger, Observers: o.Observers,
		DryRun: o.DryRun}, p).Run(ctx)
	if p.Report() != nil {
		return p.Report(), rep.Plan, nil
	}
	return nil, rep.Plan, err
}
