package phase

import (
	"context"
	"fmt"
	"time"
)

// Condition tells whether something awaited has happened. status is a one-line account of where it stands ("2/3
// nodes Ready; waiting for node w1"), shown when it changes; err ends the wait at once, for when waiting longer
// cannot help. A transient failure to look is not an error: report it as the status and answer not done.
type Condition func(ctx context.Context) (done bool, status string, err error)

// Wait is a wait that is a planned step of an action: what is awaited, for how long at most, and how to tell.
// A dry run lists it in the plan with its timeout instead of waiting.
type Wait struct {
	What    string        // "every node Ready"
	Timeout time.Duration // how long at most
	Every   time.Duration // how often to look; 0 means every second
	Check   Condition
}

// Describe is how the plan shows the wait.
func (w Wait) Describe() string { return fmt.Sprintf("wait up to %s for %s", w.Timeout, w.What) }

// TimeoutError is a wait that ran out of time; Last is the last status the condition reported.
type TimeoutError struct {
	What    string
	Timeout time.Duration
	Last    string
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("waited %s for %s", e.Timeout, e.What)
	if e.Last != "" {
		s += " (last: " + e.Last + ")"
	}
	return s
}

// Poll looks at w.Check until it is done, it fails, ctx ends or w.Timeout passes (a *TimeoutError). progress, if
// set, gets each new status. It is the one poll loop of berth: every wait goes through it.
func Poll(ctx context.Context, w Wait, progress func(status string)) error {
	every := w.Every
	if every <= 0 {
		every = time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := ""
	for {
		done, status, err := w.Check(wctx)
		if status != "" && status != last {
			last = status
			if progress != nil {
				progress(status)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", w.What, err)
		}
		if done {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return &TimeoutError{What: w.What, Timeout: w.Timeout, Last: last}
		case <-tick.C:
		}
	}
}

// Wait runs a planned wait for host (empty: the cluster as a whole). In a dry run it is recorded in the plan, with
// its timeout, instead; in a real run its progress is shown as it changes.
func (s *Session) Wait(ctx context.Context, host string, w Wait) error {
	if s.IsDryRun() {
		s.run.gate.record(s.name, s.title, host, w.Describe(), KindWait)
		s.emit(Event{Kind: Planned, Host: host, Message: w.Describe()})
		return nil
	}
	if s != nil {
		s.Debugf(host, "%s", w.Describe())
	}
	return Poll(ctx, w, func(status string) { s.Logf(host, "%s", status) })
}

// Gate is a wait run after each batch of a batched fan-out (EachBatched): the health checks that must pass before
// the next batch starts. It is given the batch's hosts.
type Gate func(batch []string) Wait
