package action

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

func testInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Load(filepath.Join("..", "..", "inventory", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// Every action takes the cluster's one lock: an upgrade cannot open a cluster an install holds, and is told who
// holds it; a dry run needs no lock.
func TestOneLockForEveryAction(t *testing.T) {
	inv := testInventory(t)
	base := t.TempDir()
	install, err := Open(Options{Action: "install", Inventory: inv, StateDir: base, Journal: true, Command: "berth install"})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(base, "clusters", inv.Metadata.Name, "journal-install.json")
	if install.Journal.Path() != want {
		t.Fatalf("journal at %s, want %s", install.Journal.Path(), want)
	}
	_, err = Open(Options{Action: "upgrade", Inventory: inv, StateDir: base, Journal: true, Command: "berth upgrade"})
	var locked *phase.LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), `"berth install"`) {
		t.Fatalf("upgrade while install runs: %v", err)
	}
	dry, err := Open(Options{Action: "upgrade", Inventory: inv, StateDir: base, Journal: true, DryRun: true})
	if err != nil {
		t.Fatalf("dry run while install runs: %v", err)
	}
	dry.Close()
	if err := install.Close(); err != nil {
		t.Fatal(err)
	}
	upgrade, err := Open(Options{Action: "upgrade", Inventory: inv, StateDir: base, Journal: true, Command: "berth upgrade"})
	if err != nil {
		t.Fatalf("upgrade after install: %v", err)
	}
	upgrade.Close()
}

// Restart forgets the journal's progress; a dry run never writes the journal.
func TestRestartForgetsProgress(t *testing.T) {
	inv := testInventory(t)
	base := t.TempDir()
	in := []phase.Input{{Name: "bundle", Digest: "d1"}}
	a, err := Open(Options{Action: "install", Inventory: inv, StateDir: base, Journal: true, Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(context.Background(), noop{}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = Open(Options{Action: "install", Inventory: inv, StateDir: base, Journal: true, Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Journal.PhaseDone("one") {
		t.Fatal("the journal lost the finished phase")
	}
	a.Close()
	a, err = Open(Options{Action: "install", Inventory: inv, StateDir: base, Journal: true, Inputs: in, Restart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Journal.PhaseDone("one") {
		t.Fatal("--restart kept the finished phase")
	}
}

type noop struct{}

func (noop) Title() string                 { return "one" }
func (noop) Run(ctx context.Context) error { return nil }

// An action run again (Again) starts afresh once its last phase finished, and resumes while it had not: a
// certificate renewal asked for next year renews again, a renewal killed half-way does not start over.
func TestAgainStartsAfreshAfterAFinishedRun(t *testing.T) {
	inv := testInventory(t)
	base := t.TempDir()
	in := []phase.Input{{Name: "inventory", Digest: "d1"}}
	open := func(dry bool) *Action {
		t.Helper()
		a, err := Open(Options{Action: "certs-renew", Inventory: inv, StateDir: base, Journal: true, Inputs: in, Again: "two", DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open(false)
	if _, err := a.Run(context.Background(), noop{}, failing{}); err == nil {
		t.Fatal("the failing phase passed")
	}
	a.Close()
	a = open(false)
	if !a.Journal.PhaseDone("one") {
		t.Fatal("a run stopped part-way was not resumed: the finished phase is forgotten")
	}
	rep, err := a.Run(context.Background(), noop{}, named{"two"})
	if err != nil || rep.Phases[0].Reason != "done in an earlier run" {
		t.Fatalf("resumed run: %v %+v", err, rep.Phases)
	}
	a.Close()
	dry := open(true)
	if dry.Journal != nil {
		t.Error("a dry run after a finished run reads the finished run's progress")
	}
	dry.Close()
	a = open(false)
	defer a.Close()
	if a.Journal.PhaseDone("one") || a.Journal.PhaseDone("two") {
		t.Fatal("the run after a finished one kept its progress: it would do nothing")
	}
}

type failing struct{}

func (failing) Title() string                 { return "two" }
func (failing) Run(ctx context.Context) error { return errors.New("stopped") }

type named struct{ title string }

func (n named) Title() string               { return n.title }
func (named) Run(ctx context.Context) error { return nil }
