package phase

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// TextReporter renders events as plain lines for terminals and CI logs: no colours, no cursor movement, one line
// per event worth reading. A phase's first line says which step of the run it is, its last how long it took and
// how long it is since the first event the reporter saw (the run's start, for a reporter made for one command).
//
//	==> Upload bundle (step 4 of 16)
//	    cp1     upload 50% (100.0 MiB of 200.0 MiB)
//	    cp1     ok 2.1s
//	    w1      FAILED 0.3s: run "true" on w1: exit status 1
//	<== Upload bundle: failed after 2.4s (elapsed 1m3s)
type TextReporter struct {
	w        io.Writer
	verbose  bool
	width    int
	progress map[string]int // last reported tenth of progress per phase/host
	start    time.Time      // time of the first event seen: the command's elapsed time counts from it
}

// NewTextReporter writes to w. verbose adds host start lines and debug log lines.
func NewTextReporter(w io.Writer, verbose bool) *TextReporter {
	return &TextReporter{w: w, verbose: verbose, width: 8, progress: map[string]int{}}
}

// Observe prints e.
func (t *TextReporter) Observe(e Event) {
	if len(e.Host) > t.width {
		t.width = len(e.Host)
	}
	if t.start.IsZero() {
		t.start = e.Time
	}
	host := fmt.Sprintf("    %-*s ", t.width, e.Host)
	switch e.Kind {
	case PhaseStart:
		fmt.Fprintf(t.w, "==> %s%s\n", e.Title, stepText(e))
	case PhaseFinish:
		switch e.Status {
		case StatusSkipped:
			fmt.Fprintf(t.w, "--- %s%s: skipped (%s)\n", e.Title, stepText(e), e.Message)
		case StatusFailed:
			fmt.Fprintf(t.w, "<== %s: failed after %s%s\n", e.Title, round(e.Duration), t.elapsed(e))
		default:
			fmt.Fprintf(t.w, "<== %s: %s in %s%s\n", e.Title, e.Status, round(e.Duration), t.elapsed(e))
		}
	case HostStart:
		if t.verbose {
			fmt.Fprintf(t.w, "%sstarted\n", host)
		}
	case HostFinish:
		switch e.Status {
		case StatusFailed:
			fmt.Fprintf(t.w, "%sFAILED %s: %s\n", host, round(e.Duration), indent(e.Err, strings.Repeat(" ", len(host)+2)))
		case StatusSkipped:
			fmt.Fprintf(t.w, "%sskipped: %s\n", host, e.Message)
		default:
			fmt.Fprintf(t.w, "%s%s %s\n", host, e.Status, round(e.Duration))
		}
	case Progress:
		if e.Total <= 0 {
			return
		}
		tenth := int(e.Done * 10 / e.Total)
		key := e.Phase + "\x00" + e.Host + "\x00" + e.Message
		if last, ok := t.progress[key]; ok && tenth <= last {
			return
		}
		t.progress[key] = tenth
		what := e.Message
		if what == "" {
			what = "transfer"
		}
		fmt.Fprintf(t.w, "%s%s %d%% (%s of %s)\n", host, what, tenth*10, bytesText(e.Done), bytesText(e.Total))
	case Log:
		if e.Level < slog.LevelInfo && !t.verbose {
			return
		}
		prefix := ""
		if e.Level >= slog.LevelWarn {
			prefix = "WARNING: "
		}
		if e.Host == "" {
			fmt.Fprintf(t.w, "    %s%s\n", prefix, e.Message)
			return
		}
		fmt.Fprintf(t.w, "%s%s%s\n", host, prefix, e.Message)
	case Planned:
		fmt.Fprintf(t.w, "%swould %s\n", host, e.Message)
	}
}

// stepText is " (step N of M)" for events that know their place in the run.
func stepText(e Event) string {
	if e.Steps <= 0 {
		return ""
	}
	return fmt.Sprintf(" (step %d of %d)", e.Step, e.Steps)
}

// elapsed is " (elapsed D)": the time from the first event this reporter saw to e.
func (t *TextReporter) elapsed(e Event) string {
	if t.start.IsZero() || e.Time.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (elapsed %s)", round(e.Time.Sub(t.start)))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func indent(s, pad string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
