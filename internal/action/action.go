package action

import (
	"context"
	"errors"
	"log/slog"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Options describe one run of an action on the cluster of an inventory.
type Options struct {
	Action      string               // "install", "reset", "upgrade": recorded in the journal and the lock
	Inventory   *inventory.Inventory // loaded and validated
	StateDir    string               // base of the state directories; "" for the default
	Journal     bool                 // keep a journal, so that a stopped run resumes
	Inputs      []phase.Input        // digests of what the run depends on, compared with the journal's
	OnChange    phase.ChangePolicy   // what a changed input does to the journal's progress
	Restart     bool                 // forget the journal's progress and check every phase again
	DryRun      bool                 // change nothing: no lock, the journal is only read
	ReadOnly    bool                 // the run reads hosts and changes none (status, backups): it takes no lock
	Skip        []string             // phases not to run
	Only        []string             // run only these phases (and those that always run)
	Concurrency int                  // hosts at once within a phase; 0 for the default
	Observers   []phase.Observer     // progress events
	Logger      *slog.Logger
	Command     string            // the command line, for whoever finds the lock
	Pool        *remote.Pool      // host connections; nil opens a pool of SSH connections to the inventory's hosts
	Lock        phase.LockOptions // lock timing (tests); Command is taken from Command
	// Again names the last phase of an action that is a command carried out anew each time it is asked (renew the
	// certificates, remove a node), rather than a state to reach (install, upgrade): when the journal records that
	// phase done, the earlier run finished, and this one starts afresh (a dry run reads no progress then). Only a run
	// that stopped part-way resumes.
	Again string
}

// Action is a cluster opened for one run: its state directory, lock and journal, and the host connections.
type Action struct {
	Dir     string         // the cluster's state directory
	Journal *phase.Journal // nil when the action keeps none
	Pool    *remote.Pool
	Log     *slog.Logger

	opts     Options
	lock     *phase.Lock
	ownsPool bool
}

// Open opens the cluster's state directory and, for a run that may change hosts, takes the cluster's lock; it
// opens the action's journal (when it keeps one) and a pool of host connections. Close releases them.
func Open(o Options) (*Action, error) {
	if o.Inventory == nil {
		return nil, errors.New("an action needs an inventory")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := phase.StateDir(o.StateDir, o.Inventory.Metadata.Name)
	if err != nil {
		return nil, err
	}
	a := &Action{Dir: dir, Log: o.Logger, opts: o, Pool: o.Pool}
	if !o.DryRun && !o.ReadOnly {
		lo := o.Lock
		lo.Command = o.Command
		if a.lock, err = phase.AcquireLock(phase.LockPath(dir), lo); err != nil {
			return nil, err
		}
		if a.lock.TookOver != "" {
			o.Logger.Warn(a.lock.TookOver)
		}
	}
	if o.Journal {
		if a.Journal, err = phase.OpenJournal(phase.JournalPath(dir, o.Action)); err != nil {
			a.Close()
			return nil, err
		}
		finished := o.Again != "" && a.Journal.PhaseDone(o.Again)
		switch {
		case finished && o.DryRun:
			a.Journal = nil
		case (o.Restart || finished) && !o.DryRun:
			if err := a.Journal.Reset(o.Action, o.Inputs); err != nil {
				a.Close()
				return nil, err
			}
		}
	}
	if a.Pool == nil {
		a.Pool, a.ownsPool = NewPool(o.Inventory, o.Logger), true
	}
	return a, nil
}

// Runner returns the phase runner of this run, over the phases in order.
func (a *Action) Runner(phases ...phase.Phase) *phase.Runner {
	o := a.opts
	return phase.New(phase.Options{Action: o.Action, Logger: o.Logger, Observers: o.Observers, DryRun: o.DryRun,
		Concurrency: o.Concurrency, Skip: o.Skip, Only: o.Only, Journal: a.Journal, Inputs: o.Inputs,
		OnChange: o.OnChange}, phases...)
}

// Run runs the phases in order (see phase.Runner.Run).
func (a *Action) Run(ctx context.Context, phases ...phase.Phase) (*phase.Report, error) {
	return a.Runner(phases...).Run(ctx)
}

// Close closes the connections the Action opened and releases the lock.
func (a *Action) Close() error {
	var errs []error
	if a.ownsPool && a.Pool != nil {
		errs = append(errs, a.Pool.Close())
	}
	if a.lock != nil {
		errs = append(errs, a.lock.Release())
	}
	return errors.Join(errs...)
}
