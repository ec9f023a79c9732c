package phase

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
)

// Session is what the Runner gives a phase: the gate for changes, journal-aware fan-out over hosts, and events.
// A nil *Session works too, as a plain real run without journal or events, so phases can be used on their own.
type Session struct {
	run    *run
	name   string
	title  string
	always bool
}

// Base is embedded by phases to receive the Session (it implements Binder) and use its methods directly:
// p.Wet(...), p.Each(...), p.Logf(...).
type Base struct {
	*Session
}

// Bind stores the run's Session.
func (b *Base) Bind(s *Session) { b.Session = s }

// PhaseName returns the machine name of the phase the Session belongs to.
func (s *Session) PhaseName() string {
	if s == nil {
		return ""
	}
	return s.name
}

// IsDryRun reports whether changes are only recorded.
func (s *Session) IsDryRun() bool { return s != nil && s.run.gate.dry }

// Logger returns the run's logger.
func (s *Session) Logger() *slog.Logger {
	if s == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.run.log.With("phase", s.name)
}

// Wet is the gate every change to a host goes through: it runs fn, or in a dry run records "would <action>" for
// host (empty for the cluster as a whole) and returns nil. Reads (facts, checks) do not go through it.
func (s *Session) Wet(host, action string, fn func() error) error {
	if s == nil {
		return fn()
	}
	return s.run.gate.do(s.name, s.title, host, action, fn)
}

// Each runs fn for every host, with the run's concurrency limit, and returns HostErrors naming every host that
// failed. Hosts the journal records as done for this phase are skipped; each host's outcome is journaled.
func (s *Session) Each(ctx context.Context, hosts []string, fn func(ctx context.Context, host string) error) error {
	return ParallelEach(ctx, s.limit(), hosts, ident, func(ctx context.Context, h string) error {
		return s.host(ctx, h, fn)
	})
}

// EachBatched is Each in batches of batchSize run one after another, stopping after a batch with a failure. After
// each batch that had work to do, the gates run in order as planned waits (Wait): a gate that fails or times out
// stops the roll-out before the next batch.
func (s *Session) EachBatched(ctx context.Context, batchSize int, hosts []string, fn func(ctx context.Context, host string) error, gates ...Gate) error {
	if batchSize <= 0 {
		batchSize = 1
	}
	for start := 0; start < len(hosts); start += batchSize {
		batch := hosts[start:min(start+batchSize, len(hosts))]
		var ran atomic.Bool
		err := ParallelEach(ctx, s.limit(), batch, ident, func(ctx context.Context, h string) error {
			if !s.HostDone(h) {
				ran.Store(true)
			}
			return s.host(ctx, h, fn)
		})
		if err == nil && ran.Load() {
			for _, g := range gates {
				w := g(batch)
				if err = s.Wait(ctx, "", w); err != nil {
					err = fmt.Errorf("after %s: %w", strings.Join(batch, ", "), err)
					break
				}
			}
		}
		if err != nil {
			if rest := len(hosts) - start - len(batch); rest > 0 {
				return fmt.Errorf("%w\nstopped before the remaining %d: fix the cause and run again", err, rest)
			}
			return err
		}
	}
	return nil
}

func ident(s string) string { return s }

func (s *Session) limit() int {
	if s == nil {
		return DefaultConcurrency
	}
	return s.run.opts.Concurrency
}

// Recorded reports whether the journal records the named phase as done (in this run or an earlier one).
func (s *Session) Recorded(phase string) bool {
	return s != nil && s.run.journal != nil && s.run.journal.PhaseDone(phase)
}

// ForgetProgress drops what the journal records as done, so that every later phase checks its hosts again. A
// phase that finds the hosts no longer as the journal describes them (rebuilt or wiped since) calls it; the reason
// is shown as a warning. A dry run only warns and leaves the journal file alone.
func (s *Session) ForgetProgress(reason string) error {
	if s == nil || s.run.journal == nil {
		return nil
	}
	rn := s.run
	rn.warn("%s: the recorded progress (%s) no longer applies, every phase checks its hosts again", reason, rn.journal.Path())
	if rn.gate.dry {
		rn.journal = nil
		return nil
	}
	return rn.journal.Reset(rn.opts.Action, rn.opts.Inputs)
}

// HostDone reports whether the journal records this phase as done on host.
func (s *Session) HostDone(host string) bool {
	return s != nil && !s.always && s.run.journal != nil && s.run.journal.HostDone(s.name, host)
}

func (s *Session) host(ctx context.Context, h string, fn func(context.Context, string) error) error {
	if s == nil {
		return fn(ctx, h)
	}
	if s.HostDone(h) {
		s.emit(Event{Kind: HostFinish, Host: h, Status: StatusSkipped, Message: "done in an earlier run"})
		return nil
	}
	s.emit(Event{Kind: HostStart, Host: h})
	start := s.run.now()
	err := fn(ctx, h)
	ev := Event{Kind: HostFinish, Host: h, Status: StatusOK, Duration: s.run.now().Sub(start)}
	switch {
	case err != nil:
		ev.Status, ev.Err = StatusFailed, err.Error()
	case s.IsDryRun():
		ev.Status = StatusPlanned
	}
	s.emit(ev)
	if !s.IsDryRun() && s.run.journal != nil && !s.always {
		if jerr := s.run.journal.MarkHost(s.name, h, ev.Status, err); jerr != nil {
			s.Logger().Warn("journal not saved", "err", jerr)
		}
	}
	return err
}

// Logf emits a log line for host (empty: the phase as a whole) and logs it.
func (s *Session) Logf(host, format string, args ...any) {
	s.logf(slog.LevelInfo, host, format, args...)
}

// Warnf emits a warning for host (empty: the phase as a whole) and logs it.
func (s *Session) Warnf(host, format string, args ...any) {
	s.logf(slog.LevelWarn, host, format, args...)
}

// Debugf emits a detail line, shown by verbose reporters only.
func (s *Session) Debugf(host, format string, args ...any) {
	s.logf(slog.LevelDebug, host, format, args...)
}

func (s *Session) logf(level slog.Level, host, format string, args ...any) {
	if s == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	// Events are how users see this; the logger keeps it for --log-file and debugging only.
	s.Logger().Debug(msg, "host", host, "level", level.String())
	s.emit(Event{Kind: Log, Host: host, Level: level, Message: msg})
}

// Progress emits how many bytes of what (an upload's destination, say) are done on host.
func (s *Session) Progress(host, what string, done, total int64) {
	s.emit(Event{Kind: Progress, Host: host, Message: what, Done: done, Total: total})
}

// ProgressFunc returns a callback that reports progress for host, shaped for remote.UploadOptions.Progress.
func (s *Session) ProgressFunc(host, what string) func(done, total int64) {
	return func(done, total int64) { s.Progress(host, what, done, total) }
}

func (s *Session) emit(e Event) {
	if s == nil {
		return
	}
	e.Phase, e.Title = s.name, s.title
	s.run.em.emit(e)
}
