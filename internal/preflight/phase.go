package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthsh/berth/internal/phase"
)

// Phase runs preflight as a phase of an action (the install's, the CLI's). Each result is also emitted as a log
// event for its host, so a live view can show a checklist. The phase fails when any check fails.
type Phase struct {
	phase.Base
	Options Options

	report *Report
}

// Title names the phase.
func (p *Phase) Title() string { return "Preflight checks" }

// Name is the phase's machine name.
func (p *Phase) Name() string { return "preflight" }

// AlwaysRun makes preflight run on every run: hosts may have changed since the last one.
func (p *Phase) AlwaysRun() bool { return true }

// Report returns the report of the last run, or nil.
func (p *Phase) Report() *Report { return p.report }

// Run checks every host and fails when a check fails.
func (p *Phase) Run(ctx context.Context) error {
	opts := p.Options
	opts.Session = p.Session
	rep, err := New(opts).Run(ctx)
	p.report = rep
	if err != nil {
		return err
	}
	for _, r := range rep.Results {
		msg := r.Check + ": " + r.Detail
		switch r.Status {
		case Fail:
			p.Warnf(r.Host, "FAIL %s; fix: %s", msg, r.Fix)
		case Warn:
			p.Warnf(r.Host, "%s; fix: %s", msg, r.Fix)
		default:
			p.Debugf(r.Host, "ok %s", msg)
		}
	}
	if !rep.Failed() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d checks failed:", rep.Summary.Fail)
	for _, r := range rep.Failures() {
		host := r.Host
		if host == "" {
			host = "(cluster)"
		}
		fmt.Fprintf(&b, "\n - %s %s: %s (fix: %s)", host, r.Check, r.Detail, r.Fix)
	}
	return fmt.Errorf("%s", b.String())
}
