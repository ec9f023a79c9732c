package phase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPollDoneFailedAndTimedOut(t *testing.T) {
	ctx := context.Background()
	n := 0
	var seen []string
	err := Poll(ctx, Wait{What: "three looks", Timeout: time.Minute, Every: time.Millisecond, Check: func(context.Context) (bool, string, error) {
		n++
		return n == 3, fmt.Sprintf("look %d", min(n, 2)), nil
	}}, func(s string) { seen = append(seen, s) })
	if err != nil || n != 3 {
		t.Fatalf("Poll: %v after %d looks", err, n)
	}
	if strings.Join(seen, ",") != "look 1,look 2" {
		t.Fatalf("progress %v: want each status once, when it changes", seen)
	}

	boom := errors.New("node deleted")
	err = Poll(ctx, Wait{What: "w1 Ready", Timeout: time.Minute, Every: time.Millisecond, Check: func(context.Context) (bool, string, error) {
		return false, "", boom
	}}, nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "w1 Ready") {
		t.Fatalf("a failing condition: %v", err)
	}

	err = Poll(ctx, Wait{What: "every node Ready", Timeout: 30 * time.Millisecond, Every: time.Millisecond, Check: func(context.Context) (bool, string, error) {
		return false, "2/3 nodes Ready", nil
	}}, nil)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Last != "2/3 nodes Ready" ||
		err.Error() != "waited 30ms for every node Ready (last: 2/3 nodes Ready)" {
		t.Fatalf("timeout: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = Poll(cctx, Wait{What: "x", Timeout: time.Minute, Check: func(context.Context) (bool, string, error) { return false, "", nil }}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// batchPhase rolls over hosts in batches with a gate after each, recording the order of work and gates.
type batchPhase struct {
	Base
	hosts []string
	size  int
	gate  func(batch []string) (bool, string, error)
	mu    sync.Mutex
	log   []string
}

func (p *batchPhase) Title() string { return "Roll workers" }
func (p *batchPhase) Run(ctx context.Context) error {
	return p.EachBatched(ctx, p.size, p.hosts, func(ctx context.Context, h string) error {
		return p.Wet(h, "upgrade "+h, func() error {
			p.mu.Lock()
			p.log = append(p.log, h)
			p.mu.Unlock()
			return nil
		})
	}, func(batch []string) Wait {
		return Wait{What: "nodes Ready after " + strings.Join(batch, "+"), Timeout: 5 * time.Minute, Every: time.Millisecond,
			Check: func(context.Context) (bool, string, error) {
				p.mu.Lock()
				p.log = append(p.log, "gate "+strings.Join(batch, "+"))
				p.mu.Unlock()
				return p.gate(batch)
			}}
	})
}

func TestGatesRunAfterEachBatch(t *testing.T) {
	p := &batchPhase{hosts: []string{"w1", "w2", "w3"}, size: 2,
		gate: func([]string) (bool, string, error) { return true, "", nil }}
	rep, err := New(Options{Action: "upgrade"}, p).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.log, ",")
	if got != "w1,w2,gate w1+w2,w3,gate w3" && got != "w2,w1,gate w1+w2,w3,gate w3" {
		t.Fatalf("order %s: want each batch, then its gate", got)
	}
	if rep.Made != 3 {
		t.Fatalf("%d changes made, want 3 (gates change nothing)", rep.Made)
	}
}

func TestFailedGateStopsBeforeNextBatch(t *testing.T) {
	p := &batchPhase{hosts: []string{"w1", "w2", "w3"}, size: 1,
		gate: func(b []string) (bool, string, error) {
			if b[0] == "w2" {
				return false, "", errors.New("node w2 NotReady after its upgrade")
			}
			return true, "", nil
		}}
	_, err := New(Options{Action: "upgrade"}, p).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "after w2") || !strings.Contains(err.Error(), "stopped before the remaining 1") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(strings.Join(p.log, ","), "w3") {
		t.Fatalf("w3 was touched after w2's gate failed: %v", p.log)
	}
}

// A resumed roll-out does not gate batches whose hosts are all done: nothing changed there.
func TestGateSkippedForBatchDoneEarlier(t *testing.T) {
	j, err := OpenJournal(t.TempDir() + "/journal.json")
	if err != nil {
		t.Fatal(err)
	}
	in := []Input{{Name: "bundle", Digest: "b1"}}
	if err := j.Reset("upgrade", in); err != nil {
		t.Fatal(err)
	}
	j.MarkHost("roll-workers", "w1", StatusOK, nil)
	p := &batchPhase{hosts: []string{"w1", "w2"}, size: 1, gate: func([]string) (bool, string, error) { return true, "", nil }}
	if _, err := New(Options{Action: "upgrade", Journal: j, Inputs: in}, p).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.log, ","); got != "w2,gate w2" {
		t.Fatalf("order %s: want only w2 and its gate", got)
	}
}

// In a dry run a wait is a planned step with its timeout, after the changes it follows, and counts as no change.
func TestDryRunPlansWaits(t *testing.T) {
	p := &batchPhase{hosts: []string{"w1", "w2"}, size: 1,
		gate: func([]string) (bool, string, error) { t.Fatal("a dry run looked at the gate"); return false, "", nil }}
	rep, err := New(Options{Action: "upgrade", DryRun: true}, p).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range rep.Plan.Items {
		got = append(got, string(it.Kind)+": "+it.Action)
	}
	want := "change: upgrade w1|wait: wait up to 5m0s for nodes Ready after w1|change: upgrade w2|wait: wait up to 5m0s for nodes Ready after w2"
	if strings.Join(got, "|") != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
	if len(rep.Plan.Changes()) != 2 || rep.Made != 0 {
		t.Fatalf("changes %d, made %d", len(rep.Plan.Changes()), rep.Made)
	}
	var text strings.Builder
	rep.Plan.WriteText(&text)
	if !strings.HasPrefix(text.String(), "Plan: 2 changes, 2 waits\n") || !strings.Contains(text.String(), "    ~ wait up to 5m0s for nodes Ready after w1\n") {
		t.Fatalf("text plan:\n%s", text.String())
	}
}
