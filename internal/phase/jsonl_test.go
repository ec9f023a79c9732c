package phase

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// lineWriter records each Write, to check that every event arrives as one whole line when it happens.
type lineWriter struct{ writes []string }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestJSONLinesWritesEachEventAsItHappens(t *testing.T) {
	var w lineWriter
	j := NewJSONLines(&w)
	at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	j.Observe(Event{Time: at, Kind: PhaseStart, Phase: "stage", Title: "Stage", Step: 4, Steps: 16})
	if len(w.writes) != 1 {
		t.Fatalf("after one event %d writes, want 1: the line must not wait for the end of the run", len(w.writes))
	}
	for _, done := range []int64{0, 5, 9, 10, 10, 50, 99, 100} {
		j.Observe(Event{Time: at, Kind: Progress, Phase: "stage", Host: "cp1", Message: "stage bundle", Done: done, Total: 100})
	}
	j.Observe(Event{Time: at, Kind: HostFinish, Phase: "stage", Host: "cp1", Status: StatusOK, Duration: 2 * time.Second})
	var dones []int64
	for i, line := range w.writes {
		if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("write %d is not one JSON line: %q", i, line)
		}
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		if e.Kind == Progress {
			dones = append(dones, e.Done)
		}
	}
	if want := []int64{0, 5, 9, 10, 50, 99, 100}; !slices.Equal(dones, want) {
		t.Errorf("progress lines at %v, want %v (one per percent, the last always)", dones, want)
	}
	var first Event
	_ = json.Unmarshal([]byte(w.writes[0]), &first)
	if first.Step != 4 || first.Steps != 16 || first.Title != "Stage" || !first.Time.Equal(at) {
		t.Errorf("first event read back as %+v", first)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestJSONLinesStopsAtTheFirstWriteError(t *testing.T) {
	w := &failingWriter{}
	j := NewJSONLines(w)
	j.Observe(Event{Kind: PhaseStart})
	j.Observe(Event{Kind: PhaseFinish})
	if w.n != 1 || j.Err() == nil || !strings.Contains(j.Err().Error(), "disk full") {
		t.Fatalf("writes %d, err %v", w.n, j.Err())
	}
}

// TestRunEventsCarryTheirStep: every phase's start and finish, skipped ones included, say which step of the run
// they are, so that reporters can say "step N of M".
func TestRunEventsCarryTheirStep(t *testing.T) {
	rec := &recorder{}
	var b bytes.Buffer
	j := NewJSONLines(&b)
	phases := []Phase{
		&fakePhase{title: "Connect", rec: rec},
		&fakePhase{title: "Skipped", rec: rec},
		Group("Control plane", &fakePhase{title: "Init", rec: rec}, &fakePhase{title: "Join", rec: rec}),
	}
	if _, err := New(Options{Action: "test", Observers: []Observer{j}, Skip: []string{"skipped"}}, phases...).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == PhaseStart || e.Kind == PhaseFinish {
			got = append(got, fmt.Sprintf("%s %s %d/%d", e.Kind, e.Phase, e.Step, e.Steps))
		}
	}
	want := []string{
		"phase-start connect 1/4", "phase-finish connect 1/4",
		"phase-finish skipped 2/4",
		"phase-start control-plane/init 3/4", "phase-finish control-plane/init 3/4",
		"phase-start control-plane/join 4/4", "phase-finish control-plane/join 4/4",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
