package phase

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Run runs the phases in order and stops at the first that fails. It returns a Report in every case; in a dry run
// the Report's Plan holds every change the phases would make.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	o := r.opts
	rn := &run{opts: o, log: o.Logger, now: o.Now, journal: o.Journal,
		em: &emitter{observers: o.Observers, now: o.Now}}
	rn.gate = &gate{dry: o.DryRun, em: rn.em}
	start := o.Now()
	rep := &Report{Action: o.Action, DryRun: o.DryRun}
	defer func() {
		rep.Duration = o.Now().Sub(start)
		if o.DryRun {
			rep.Plan = rn.gate.snapshot()
		}
		rep.Made = rn.gate.made()
	}()

	steps := flatten("", r.phases)
	for i := range steps {
		steps[i].index, steps[i].count = i+1, len(steps)
	}
	if err := r.checkNames(steps); err != nil {
		return rep, err
	}
	if err := r.openJournal(rn, rep); err != nil {
		return rep, err
	}

	var prepared []step
	defer func() {
		cctx := context.WithoutCancel(ctx)
		for _, s := range slices.Backward(prepared) {
			if c, ok := s.p.(CleanUpper); ok {
				c.CleanUp(cctx)
			}
		}
	}()
	for _, st := range steps {
		res, err := r.runStep(ctx, rn, st, &prepared)
		rep.Phases = append(rep.Phases, res)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", st.title, err)
		}
	}
	return rep, nil
}

// checkNames refuses duplicate phase names and unknown names in Skip and Only, before anything runs.
func (r *Runner) checkNames(steps []step) error {
	seen := map[string]bool{}
	for _, s := range steps {
		if seen[s.name] {
			return fmt.Errorf("two phases are named %q", s.name)
		}
		seen[s.name] = true
	}
	valid := r.Names()
	for _, n := range append(slices.Clone(r.opts.Skip), r.opts.Only...) {
		if !slices.Contains(valid, n) {
			return fmt.Errorf("no phase is named %q; phases: %s", n, strings.Join(valid, ", "))
		}
	}
	return nil
}

// openJournal compares the inputs with the journal's and applies the change policy.
func (r *Runner) openJournal(rn *run, rep *Report) error {
	j := r.opts.Journal
	if j == nil {
		return nil
	}
	changes := j.Compare(r.opts.Inputs)
	rep.Changes = changes
	if len(changes) > 0 {
		err := &InputsChangedError{Journal: j.Path(), Changes: changes}
		if r.opts.OnChange == RefuseOnChange {
			return err
		}
		for _, c := range changes {
			rn.warn("%s", c)
		}
		rn.warn("the recorded progress (%s) does not apply to the new inputs: every phase runs again", j.Path())
		if r.opts.DryRun {
			rn.journal = nil // a real run would start afresh; the dry run must not touch the file
			return nil
		}
		return j.Reset(r.opts.Action, r.opts.Inputs)
	}
	if j.Empty() {
		if r.opts.DryRun {
			return nil
		}
		return j.Reset(r.opts.Action, r.opts.Inputs)
	}
	rep.Resumed = true
	rn.info("resuming from %s (last updated %s)", j.Path(), j.Updated().Format("2006-01-02 15:04:05"))
	return nil
}

func (rn *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rn.log.Debug(msg, "level", "WARN")
	rn.em.emit(Event{Kind: Log, Level: slog.LevelWarn, Message: msg})
}

func (rn *run) info(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rn.log.Debug(msg)
	rn.em.emit(Event{Kind: Log, Message: msg})
}

// runStep runs one phase: selection, Prepare, ShouldRun, journal, then Run or DryRun.
func (r *Runner) runStep(ctx context.Context, rn *run, st step, prepared *[]step) (PhaseResult, error) {
	res := PhaseResult{Name: st.name, Title: st.title}
	always, recheck := false, false
	if a, ok := st.p.(AlwaysRunner); ok {
		always = a.AlwaysRun()
	}
	if c, ok := st.p.(Rechecker); ok {
		recheck = c.Recheck()
	}
	skip := func(reason string) (PhaseResult, error) {
		res.Status, res.Reason = StatusSkipped, reason
		rn.em.emit(Event{Kind: PhaseFinish, Phase: st.name, Title: st.title, Status: StatusSkipped, Message: reason,
			Step: st.index, Steps: st.count})
		return res, nil
	}
	switch {
	case matches(st.name, r.opts.Skip):
		return skip("skipped on request")
	case len(r.opts.Only) > 0 && !matches(st.name, r.opts.Only) && !always:
		return skip("not selected")
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// From here on a phase that rechecks is treated as one that always runs: the journal neither skips it nor its
	// hosts, and records nothing of it.
	always = always || recheck
	if !always && rn.journal != nil && rn.journal.PhaseDone(st.name) {
		return skip("done in an earlier run")
	}
	if b, ok := st.p.(Binder); ok {
		b.Bind(&Session{run: rn, name: st.name, title: st.title, always: always})
	}
	start := rn.now()
	*prepared = append(*prepared, st)
	if p, ok := st.p.(Preparer); ok {
		if err := p.Prepare(ctx); err != nil {
			rn.em.emit(Event{Kind: PhaseStart, Phase: st.name, Title: st.title, Step: st.index, Steps: st.count})
			return r.finish(rn, st, always, res, start, fmt.Errorf("prepare: %w", err))
		}
	}
	if c, ok := st.p.(Conditional); ok && !c.ShouldRun() {
		return skip("nothing to do")
	}
	rn.em.emit(Event{Kind: PhaseStart, Phase: st.name, Title: st.title, Step: st.index, Steps: st.count})
	var err error
	if d, ok := st.p.(DryRunner); ok && rn.gate.dry {
		err = d.DryRun(ctx)
	} else {
		err = st.p.Run(ctx)
	}
	return r.finish(rn, st, always, res, start, err)
}

// finish records a phase's outcome in the result, the event stream and the journal.
func (r *Runner) finish(rn *run, st step, always bool, res PhaseResult, start time.Time, err error) (PhaseResult, error) {
	res.Duration = rn.now().Sub(start)
	ev := Event{Kind: PhaseFinish, Phase: st.name, Title: st.title, Duration: res.Duration, Step: st.index, Steps: st.count}
	switch {
	case err != nil:
		res.Status, res.Err = StatusFailed, err.Error()
		ev.Err = res.Err
	case rn.gate.dry:
		res.Status = StatusPlanned
	default:
		res.Status = StatusOK
	}
	ev.Status = res.Status
	rn.em.emit(ev)
	if !rn.gate.dry && rn.journal != nil && !always {
		if jerr := rn.journal.MarkPhase(st.name, res.Status, err); jerr != nil {
			rn.log.Warn("journal not saved", "phase", st.name, "err", jerr)
		}
	}
	return res, err
}
