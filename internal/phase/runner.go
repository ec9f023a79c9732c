package phase

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultConcurrency is how many hosts a phase works on at once unless told otherwise.
const DefaultConcurrency = 10

// ChangePolicy says what a run does when its inputs differ from those its journal recorded.
type ChangePolicy int

const (
	// RestartOnChange explains the change, forgets the recorded outcomes and runs every phase again. Phases are
	// idempotent, so this converges the cluster to the new inputs.
	RestartOnChange ChangePolicy = iota
	// RefuseOnChange explains the change and stops with *InputsChangedError before any phase runs.
	RefuseOnChange
)

// Options configure a Runner. Only Action is required.
type Options struct {
	Action      string       // "install", "upgrade": recorded in the journal
	Logger      *slog.Logger // nil discards
	Observers   []Observer   // receive every event
	DryRun      bool         // record changes (Plan) instead of making them
	Concurrency int          // hosts worked on at once per phase; 0 means DefaultConcurrency
	Skip        []string     // phase names (or group names) not to run, like kubeadm's --skip-phases
	Only        []string     // run only these phases, plus the AlwaysRunner ones (kubeadm's `phase NAME`)
	Journal     *Journal     // records outcomes for resuming; nil runs without one
	Inputs      []Input      // digests of what the run depends on, checked against the journal
	OnChange    ChangePolicy // what to do when Inputs differ from the journal's
	Now         func() time.Time
}

// InputsChangedError stops a run whose inputs differ from the journal's under RefuseOnChange.
type InputsChangedError struct {
	Journal string
	Changes []InputChange
}

func (e *InputsChangedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the inputs changed since the run recorded in %s:", e.Journal)
	for _, c := range e.Changes {
		b.WriteString("\n - " + c.String())
	}
	b.WriteString("\nthe recorded progress does not apply to the new inputs: start afresh to run every phase again")
	return b.String()
}

// PhaseResult is the outcome of one phase in a Report.
type PhaseResult struct {
	Name     string        `json:"name"`
	Title    string        `json:"title"`
	Status   Status        `json:"status"`
	Reason   string        `json:"reason,omitempty"` // why it was skipped
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Report is what a run did.
type Report struct {
	Action   string        `json:"action"`
	DryRun   bool          `json:"dryRun"`
	Phases   []PhaseResult `json:"phases"`
	Plan     *Plan         `json:"plan,omitempty"`    // dry runs: every change that would be made
	Changes  []InputChange `json:"changes,omitempty"` // inputs that differ from the journal's
	Resumed  bool          `json:"resumed"`           // the journal's progress was used
	Made     int           `json:"changesMade"`       // changes made through the gate (real runs); 0 = nothing changed
	Duration time.Duration `json:"duration"`
}

// Runner runs phases in order.
type Runner struct {
	opts   Options
	phases []Phase
}

// New returns a Runner for the phases, in order.
func New(opts Options, phases ...Phase) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Runner{opts: opts, phases: phases}
}

// step is a leaf phase with its full name ("group/child").
type step struct {
	name  string
	title string
	p     Phase
	index int // place in the run, from 1
	count int // phases in the run
}

func flatten(prefix string, phases []Phase) []step {
	var out []step
	for _, p := range phases {
		name := Name(p)
		if prefix != "" {
			name = prefix + "/" + name
		}
		if g, ok := p.(Parent); ok {
			out = append(out, flatten(name, g.Phases())...)
			continue
		}
		out = append(out, step{name: name, title: p.Title(), p: p})
	}
	return out
}

// Names lists the names of the phases that can be skipped or selected, groups included, in order.
func (r *Runner) Names() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range flatten("", r.phases) {
		parts := strings.Split(s.name, "/")
		for i := 1; i <= len(parts); i++ {
			n := strings.Join(parts[:i], "/")
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

func matches(name string, patterns []string) bool {
	for _, p := range patterns {
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// run is the state of one Run, shared by the phases' Sessions.
type run struct {
	opts    Options
	log     *slog.Logger
	em      *emitter
	gate    *gate
	journal *Journal // nil when there is none or it does not apply (dry run with changed inputs)
	now     func() time.Time
}
