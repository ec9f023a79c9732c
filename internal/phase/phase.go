package phase

import (
	"context"
	"strings"
	"unicode"
)

// Phase is one step of an action. Run must be idempotent: running it again on a host it already converged changes
// nothing. Changes to hosts go through Session.Wet so that dry runs record them instead.
type Phase interface {
	Title() string
	Run(ctx context.Context) error
}

// Preparer is a Phase that gathers facts or computes its changes before running. Prepare runs in dry runs too and
// must not change any host.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// Conditional is a Phase that can tell, after Prepare, that it has nothing to do.
type Conditional interface {
	ShouldRun() bool
}

// DryRunner is a Phase that describes its changes itself in a dry run, instead of running with a recording gate.
type DryRunner interface {
	DryRun(ctx context.Context) error
}

// CleanUpper is a Phase with something to release (temporary files, connections) after the action, whatever the
// outcome. CleanUp runs for every phase that was prepared, in reverse order.
type CleanUpper interface {
	CleanUp(ctx context.Context)
}

// Named is a Phase with an explicit machine name (for --skip-phases, single-phase runs and the journal). Without
// it the name is derived from the title: "Join control planes" becomes "join-control-planes".
type Named interface {
	Name() string
}

// AlwaysRunner is a Phase that runs on every run, even when the journal says it completed and when only another
// phase was asked for: connecting and gathering facts are such phases. An explicit skip still skips it.
type AlwaysRunner interface {
	AlwaysRun() bool
}

// Rechecker is a Phase whose state on hosts can drift after it finished (a host firewall someone flushes): it runs
// on every run even when the journal says it completed, and its hosts are never skipped as done. Unlike an
// AlwaysRunner, it runs only when selected: `berth install phase X` leaves it alone.
type Rechecker interface {
	Recheck() bool
}

// Binder is a Phase that wants the run's Session (gate, fan-out, events, journal). Embedding Base provides it.
type Binder interface {
	Bind(s *Session)
}

// Parent is a Phase that groups child phases; the runner runs the children in order, named "parent/child".
type Parent interface {
	Phases() []Phase
}

// Group returns a Phase grouping others under one name, like kubeadm's nested phases: skipping or selecting the
// group skips or selects all of its children.
func Group(title string, phases ...Phase) Phase { return &group{title: title, phases: phases} }

type group struct {
	title  string
	phases []Phase
}

func (g *group) Title() string                 { return g.title }
func (g *group) Run(ctx context.Context) error { return nil }
func (g *group) Phases() []Phase               { return g.phases }

// Name returns the machine name of a phase.
func Name(p Phase) string {
	if n, ok := p.(Named); ok && n.Name() != "" {
		return n.Name()
	}
	return slug(p.Title())
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}
