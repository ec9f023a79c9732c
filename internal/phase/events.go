package phase

import (
	"log/slog"
	"sync"
	"time"
)

// Kind says what an Event reports.
type Kind string

// Kinds of events, in the order a phase produces them.
const (
	PhaseStart  Kind = "phase-start"  // a phase begins (Title, Phase)
	HostStart   Kind = "host-start"   // a phase begins work on a host
	Progress    Kind = "progress"     // bytes moved for a host (Done, Total)
	Log         Kind = "log"          // a line worth showing (Message, Level)
	Planned     Kind = "planned"      // dry run: a change the gate recorded instead of making (Message)
	HostFinish  Kind = "host-finish"  // a phase finished on a host (Status, Err, Duration)
	PhaseFinish Kind = "phase-finish" // a phase ended (Status, Err, Duration)
)

// Status is the outcome of a phase or of a phase on one host.
type Status string

// Outcomes.
const (
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped" // Message says why: done in an earlier run, not selected, nothing to do
	StatusPlanned Status = "planned" // dry run finished: the plan holds what would change
)

// Event is one thing that happened during a run. Events of one run arrive in order, one at a time.
type Event struct {
	Time     time.Time     `json:"time"`
	Kind     Kind          `json:"kind"`
	Phase    string        `json:"phase,omitempty"` // machine name
	Title    string        `json:"title,omitempty"`
	Host     string        `json:"host,omitempty"`
	Status   Status        `json:"status,omitempty"`
	Message  string        `json:"message,omitempty"`
	Level    slog.Level    `json:"level,omitempty"` // of Log events
	Err      string        `json:"error,omitempty"`
	Done     int64         `json:"done,omitempty"`  // Progress: bytes done
	Total    int64         `json:"total,omitempty"` // Progress: bytes in all
	Duration time.Duration `json:"duration,omitempty"`
	Step     int           `json:"step,omitempty"`  // PhaseStart, PhaseFinish: the phase's place in the run, from 1
	Steps    int           `json:"steps,omitempty"` // PhaseStart, PhaseFinish: how many phases the run has
}

// Observer receives events. Calls are serialised: an Observer need not be safe for concurrent use, but it should
// return quickly, because the run waits for it.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// ChanObserver sends events to ch, for a UI running its own loop (the TUI). It blocks when ch is full, except for
// Progress events, which it drops then: a later one supersedes them.
func ChanObserver(ch chan<- Event) Observer {
	return ObserverFunc(func(e Event) {
		if e.Kind == Progress {
			select {
			case ch <- e:
			default:
			}
			return
		}
		ch <- e
	})
}

// emitter stamps events and hands them to the observers one at a time.
type emitter struct {
	mu        sync.Mutex
	observers []Observer
	now       func() time.Time
}

func (em *emitter) emit(e Event) {
	em.mu.Lock()
	defer em.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = em.now()
	}
	for _, o := range em.observers {
		o.Observe(e)
	}
}
