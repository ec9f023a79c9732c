package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/internal/phase"
)

// readEvents reads an --events file: one phase.Event per line.
func readEvents(t *testing.T, path string) []phase.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []phase.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e phase.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestEventsFile: install and reset write every event of the run to --events FILE as JSON lines (0600), a failed
// run included; the text on stderr numbers the steps. The hosts here refuse SSH at once, so the run stops in its
// first phase.
func TestEventsFile(t *testing.T) {
	t.Setenv("BERTH_BUNDLE_KEY", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	unsigned := writeTestBundle(t, "", "v1.31.4", map[string]string{"bin/kubeadm": "kubeadm 1.31"})
	inv := unreachableInventory(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"install", []string{"install", "-i", inv, "-b", unsigned, "--insecure-skip-signature", "--yes", "--state-dir", dir}},
		{"reset", []string{"reset", "-i", inv, "--yes", "--state-dir", dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := filepath.Join(dir, tc.name+".jsonl")
			code, _, errOut := berth(t, append(tc.args, "--events", events)...)
			if code != exitFailure {
				t.Fatalf("exit %d on unreachable hosts, want 1\n%s", code, errOut)
			}
			st, err := os.Stat(events)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("events file: %v %v, want mode 0600", st, err)
			}
			evs := readEvents(t, events)
			if len(evs) < 3 {
				t.Fatalf("%d events, want the phase's start, the host's failure and the phase's end", len(evs))
			}
			first, last := evs[0], evs[len(evs)-1]
			if first.Kind != phase.PhaseStart || first.Step != 1 || first.Steps < 2 || first.Time.IsZero() {
				t.Errorf("first event %+v, want the start of step 1 of the run", first)
			}
			if last.Kind != phase.PhaseFinish || last.Status != phase.StatusFailed || last.Err == "" {
				t.Errorf("last event %+v, want the failed phase", last)
			}
			failedHost := false
			for _, e := range evs {
				failedHost = failedHost || e.Kind == phase.HostFinish && e.Host == "cp1" && e.Status == phase.StatusFailed
			}
			if !failedHost {
				t.Errorf("no event says cp1 failed: %+v", evs)
			}
			if !strings.Contains(errOut, "(step 1 of ") || !strings.Contains(errOut, "(elapsed ") {
				t.Errorf("stderr lacks the step and elapsed time:\n%s", errOut)
			}
		})
	}
	if code, _, errOut := berth(t, "reset", "-i", inv, "--yes", "--events", filepath.Join(dir, "no", "such", "dir", "e.jsonl")); code != exitFailure ||
		!strings.Contains(errOut, "open the events file") {
		t.Errorf("an events file that cannot be created: exit %d\n%s", code, errOut)
	}
}
