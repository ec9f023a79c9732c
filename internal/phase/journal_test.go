package phase

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runCount(m *sync.Map, h string) int {
	v, ok := m.Load(h)
	if !ok {
		return 0
	}
	return *v.(*int)
}

func inventoryInput(hosts map[string]string) Input {
	parts := map[string][]byte{}
	var all []string
	for h, v := range hosts {
		parts["host "+h] = []byte(v)
		all = append(all, h+"="+v)
	}
	return NewInput("inventory", []byte(strings.Join(sortedStrings(all), ";")), parts)
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for k := i; k > 0 && out[k-1] > out[k]; k-- {
			out[k-1], out[k] = out[k], out[k-1]
		}
	}
	return out
}

func TestJournalResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal-install.json")
	inputs := []Input{inventoryInput(map[string]string{"a": "1", "b": "1", "c": "1"}), NewInput("bundle", []byte("b1"), nil)}
	runs1, runs2 := &sync.Map{}, &sync.Map{}
	fail := map[string]bool{"b": true}
	mk := func() []Phase {
		return []Phase{
			&hostPhase{title: "os", hosts: []string{"a", "b", "c"}, runs: runs1},
			&hostPhase{title: "runtime", hosts: []string{"a", "b", "c"}, runs: runs2, fail: fail},
			&hostPhase{title: "join", hosts: []string{"a", "b", "c"}},
		}
	}
	open := func() *Journal {
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	_, err := New(Options{Action: "install", Journal: open(), Inputs: inputs}, mk()...).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "failed on 1 host:\n - b: disk full") {
		t.Fatalf("first run err = %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %o, want 600", fi.Mode().Perm())
	}

	// Second run, same inputs, the host fixed: os is skipped entirely, runtime only runs on b.
	delete(fail, "b")
	rep, err := New(Options{Action: "install", Journal: open(), Inputs: inputs}, mk()...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed || len(rep.Changes) != 0 {
		t.Fatalf("resumed=%v changes=%v", rep.Resumed, rep.Changes)
	}
	if rep.Phases[0].Status != StatusSkipped || rep.Phases[0].Reason != "done in an earlier run" {
		t.Fatalf("os phase: %+v", rep.Phases[0])
	}
	for h, want := range map[string]int{"a": 1, "b": 1, "c": 1} {
		if got := runCount(runs1, h); got != want {
			t.Errorf("os ran %d times on %s, want %d", got, h, want)
		}
	}
	for h, want := range map[string]int{"a": 1, "b": 2, "c": 1} {
		if got := runCount(runs2, h); got != want {
			t.Errorf("runtime ran %d times on %s, want %d", got, h, want)
		}
	}
	j := open()
	for _, p := range []string{"os", "runtime", "join"} {
		if !j.PhaseDone(p) {
			t.Errorf("journal: phase %s not done", p)
		}
	}

	// Third run: everything done, nothing runs.
	rep, err = New(Options{Action: "install", Journal: open(), Inputs: inputs}, mk()...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if p.Status != StatusSkipped {
			t.Fatalf("phase %s ran again: %+v", p.Name, p)
		}
	}
}

func TestJournalChangedInputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal-install.json")
	old := []Input{inventoryInput(map[string]string{"a": "1", "b": "1"}), NewInput("bundle", []byte("v1.31"), nil)}
	changed := []Input{inventoryInput(map[string]string{"a": "1", "b": "2", "c": "1"}), NewInput("bundle", []byte("v1.31"), nil)}
	j, _ := OpenJournal(path)
	runs := &sync.Map{}
	ph := func() Phase { return &hostPhase{title: "os", hosts: []string{"a", "b"}, runs: runs} }
	if _, err := New(Options{Action: "install", Journal: j, Inputs: old}, ph()).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("refuse", func(t *testing.T) {
		j, _ := OpenJournal(path)
		_, err := New(Options{Action: "install", Journal: j, Inputs: changed, OnChange: RefuseOnChange}, ph()).Run(context.Background())
		var ice *InputsChangedError
		if !errors.As(err, &ice) {
			t.Fatalf("err = %v, want InputsChangedError", err)
		}
		msg := err.Error()
		for _, want := range []string{"inventory changed (sha256 ", "host b changed", "host c added", path} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "bundle") {
			t.Errorf("unchanged bundle reported:\n%s", msg)
		}
		if runCount(runs, "a") != 1 {
			t.Fatal("a phase ran although the run was refused")
		}
	})

	t.Run("dry run explains and leaves the journal alone", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		j, _ := OpenJournal(path)
		rep, err := New(Options{Action: "install", Journal: j, Inputs: changed, DryRun: true}, ph()).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Changes) != 1 || len(rep.Plan.Items) != 2 {
			t.Fatalf("changes=%v plan=%v", rep.Changes, rep.Plan.Items)
		}
		after, _ := os.ReadFile(path)
		if string(before) != string(after) {
			t.Fatal("dry run rewrote the journal")
		}
	})

	t.Run("restart", func(t *testing.T) {
		j, _ := OpenJournal(path)
		var warnings []string
		obs := ObserverFunc(func(e Event) {
			if e.Kind == Log && e.Level > 0 {
				warnings = append(warnings, e.Message)
			}
		})
		beforeA, beforeB := runCount(runs, "a"), runCount(runs, "b")
		rep, err := New(Options{Action: "install", Journal: j, Inputs: changed, Observers: []Observer{obs}}, ph()).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Resumed || len(rep.Changes) != 1 || rep.Changes[0].Name != "inventory" {
			t.Fatalf("report: resumed=%v changes=%+v", rep.Resumed, rep.Changes)
		}
		if runCount(runs, "a") != beforeA+1 || runCount(runs, "b") != beforeB+1 {
			t.Fatal("phases did not run again after the inputs changed")
		}
		if len(warnings) < 2 || !strings.Contains(warnings[0], "host b changed, host c added") {
			t.Fatalf("warnings = %q", warnings)
		}
		if c := j.Compare(changed); len(c) != 0 {
			t.Fatalf("journal did not record the new inputs: %v", c)
		}
	})
}

func TestJournalRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := OpenJournal(path); err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("err = %v", err)
	}
}

// hostCheck is an always-run phase that finds the hosts rebuilt and drops the journal's progress.
type hostCheck struct {
	Base
	rebuilt bool
	saw     bool // whether "os" was recorded as done when it ran
}

func (p *hostCheck) Title() string   { return "facts" }
func (p *hostCheck) AlwaysRun() bool { return true }
func (p *hostCheck) Run(context.Context) error {
	p.saw = p.Recorded("os")
	if p.rebuilt {
		return p.ForgetProgress("hosts rebuilt")
	}
	return nil
}

func TestForgetProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal-install.json")
	inputs := []Input{NewInput("bundle", []byte("b1"), nil)}
	runs := &sync.Map{}
	run := func(check *hostCheck, dry bool) *Report {
		t.Helper()
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := New(Options{Action: "install", Journal: j, Inputs: inputs, DryRun: dry},
			check, &hostPhase{title: "os", hosts: []string{"a", "b"}, runs: runs}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	run(&hostCheck{}, false)
	check := &hostCheck{}
	if rep := run(check, false); !check.saw || rep.Phases[1].Status != StatusSkipped {
		t.Fatalf("second run: os recorded %v, status %s; want it recorded and skipped", check.saw, rep.Phases[1].Status)
	}
	// Hosts rebuilt, dry run: the plan covers os again, the journal is untouched.
	if rep := run(&hostCheck{rebuilt: true}, true); rep.Phases[1].Status != StatusPlanned {
		t.Fatalf("dry run after a rebuild: os %s, want planned", rep.Phases[1].Status)
	}
	if j, _ := OpenJournal(path); !j.PhaseDone("os") {
		t.Fatal("the dry run changed the journal")
	}
	// Hosts rebuilt: os runs again on every host, and the journal records it afresh.
	if rep := run(&hostCheck{rebuilt: true}, false); rep.Phases[1].Status != StatusOK {
		t.Fatalf("after a rebuild: os %s, want ok", rep.Phases[1].Status)
	}
	for _, h := range []string{"a", "b"} {
		if got := runCount(runs, h); got != 3 { // the first run, the dry run (planning only) and this one
			t.Errorf("os ran %d times on %s, want 3", got, h)
		}
	}
	if j, _ := OpenJournal(path); !j.PhaseDone("os") {
		t.Error("the journal does not record the new run")
	}
}

// recheck is a phase whose state can drift: it runs on every run, journal or not, but only when selected.
type recheck struct {
	Base
	runs int
}

func (p *recheck) Title() string                 { return "firewall" }
func (p *recheck) Recheck() bool                 { return true }
func (p *recheck) Run(ctx context.Context) error { p.runs++; return nil }

func TestRecheckRunsAgainWhenSelected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal-install.json")
	inputs := []Input{NewInput("bundle", []byte("b1"), nil)}
	runs := &sync.Map{}
	fw := &recheck{}
	run := func(only ...string) *Report {
		t.Helper()
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := New(Options{Action: "install", Journal: j, Inputs: inputs, Only: only},
			fw, &hostPhase{title: "os", hosts: []string{"a"}, runs: runs}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	run()
	if rep := run(); fw.runs != 2 || rep.Phases[0].Status != StatusOK || rep.Phases[1].Status != StatusSkipped {
		t.Fatalf("second run: firewall ran %d times (%s), os %s; want it run again and os skipped as done", fw.runs, rep.Phases[0].Status, rep.Phases[1].Status)
	}
	if rep := run("os"); fw.runs != 2 || rep.Phases[0].Status != StatusSkipped {
		t.Fatalf("only os selected: firewall ran %d times (%s); want it left alone", fw.runs, rep.Phases[0].Status)
	}
}
