package phase

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestTextReporter(t *testing.T) {
	var b bytes.Buffer
	r := NewTextReporter(&b, false)
	for _, e := range []Event{
		{Kind: PhaseStart, Phase: "upload", Title: "Upload bundle"},
		{Kind: HostStart, Host: "cp1"},
		{Kind: Progress, Host: "cp1", Message: "upload /opt/b.tar", Done: 0, Total: 200 << 20},
		{Kind: Progress, Host: "cp1", Message: "upload /opt/b.tar", Done: 50 << 20, Total: 200 << 20},
		{Kind: Progress, Host: "cp1", Message: "upload /opt/b.tar", Done: 51 << 20, Total: 200 << 20},
		{Kind: Log, Host: "cp1", Level: slog.LevelDebug, Message: "hidden detail"},
		{Kind: Log, Host: "worker-long", Level: slog.LevelWarn, Message: "swap is on"},
		{Kind: HostFinish, Host: "cp1", Status: StatusOK, Duration: 2100 * time.Millisecond},
		{Kind: HostFinish, Host: "w1", Status: StatusFailed, Duration: 300 * time.Millisecond, Err: errors.New("run \"x\": exit status 1\n  | no space").Error()},
		{Kind: HostFinish, Host: "w2", Status: StatusSkipped, Message: "done in an earlier run"},
		{Kind: Planned, Host: "w2", Message: "write /etc/x"},
		{Kind: PhaseFinish, Title: "Upload bundle", Status: StatusFailed, Duration: 2400 * time.Millisecond},
		{Kind: PhaseFinish, Title: "Join", Status: StatusSkipped, Message: "not selected"},
	} {
		r.Observe(e)
	}
	want := `==> Upload bundle
    cp1      upload /opt/b.tar 0% (0 B of 200.0 MiB)
    cp1      upload /opt/b.tar 20% (50.0 MiB of 200.0 MiB)
    worker-long WARNING: swap is on
    cp1         ok 2.1s
    w1          FAILED 300ms: run "x": exit status 1
                    | no space
    w2          skipped: done in an earlier run
    w2          would write /etc/x
<== Upload bundle: failed after 2.4s
--- Join: skipped (not selected)
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestTextReporterStepsAndElapsed: a phase says which step of the run it is when it starts (skipped ones too), and
// when it ends how long the whole command has taken so far; events without a step (scripted, older) keep the
// plain lines.
func TestTextReporterStepsAndElapsed(t *testing.T) {
	var b bytes.Buffer
	r := NewTextReporter(&b, false)
	at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for _, e := range []Event{
		{Time: at, Kind: PhaseStart, Title: "Connect", Step: 1, Steps: 3},
		{Time: at.Add(2 * time.Second), Kind: PhaseFinish, Title: "Connect", Status: StatusOK, Duration: 2 * time.Second, Step: 1, Steps: 3},
		{Time: at.Add(2 * time.Second), Kind: PhaseFinish, Title: "Prepare OS", Status: StatusSkipped, Message: "done in an earlier run", Step: 2, Steps: 3},
		{Time: at.Add(2 * time.Second), Kind: PhaseStart, Title: "Join workers", Step: 3, Steps: 3},
		{Time: at.Add(75 * time.Second), Kind: PhaseFinish, Title: "Join workers", Status: StatusFailed, Duration: 73 * time.Second, Step: 3, Steps: 3},
	} {
		r.Observe(e)
	}
	want := `==> Connect (step 1 of 3)
<== Connect: ok in 2s (elapsed 2s)
--- Prepare OS (step 2 of 3): skipped (done in an earlier run)
==> Join workers (step 3 of 3)
<== Join workers: failed after 1m13s (elapsed 1m15s)
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
