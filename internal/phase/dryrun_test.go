package phase

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// describingPhase describes itself in dry runs and would fail if Run were called then.
type describingPhase struct {
	Base
	t *testing.T
}

func (p *describingPhase) Title() string { return "Init cluster" }
func (p *describingPhase) Run(context.Context) error {
	if p.IsDryRun() {
		p.t.Error("Run called in a dry run although the phase has DryRun")
	}
	return nil
}
func (p *describingPhase) DryRun(context.Context) error {
	return p.Wet("cp1", "run kubeadm init", func() error {
		p.t.Error("the gate ran a change in a dry run")
		return nil
	})
}

func TestDryRunNeverMutates(t *testing.T) {
	state := &sync.Map{}
	dir := t.TempDir()
	j, err := OpenJournal(filepath.Join(dir, "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	phases := []Phase{
		&hostPhase{title: "containerd", hosts: []string{"cp1", "w1"}, state: state},
		&describingPhase{t: t},
		&hostPhase{title: "kubelet", hosts: []string{"w1"}, state: state},
	}
	rep, err := New(Options{Action: "install", DryRun: true, Journal: j,
		Inputs:    []Input{NewInput("inventory", []byte("v1"), nil)},
		Observers: []Observer{ObserverFunc(func(e Event) { events = append(events, e) })}}, phases...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	state.Range(func(k, v any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("dry run changed %d hosts", n)
	}
	if !j.Empty() || fileExists(j.Path()) {
		t.Fatal("dry run wrote the journal")
	}
	want := []PlanItem{
		{Phase: "containerd", Title: "containerd", Host: "cp1", Kind: KindChange, Action: "write /etc/containerd.conf"},
		{Phase: "containerd", Title: "containerd", Host: "w1", Kind: KindChange, Action: "write /etc/containerd.conf"},
		{Phase: "init-cluster", Title: "Init cluster", Host: "cp1", Kind: KindChange, Action: "run kubeadm init"},
		{Phase: "kubelet", Title: "kubelet", Host: "w1", Kind: KindChange, Action: "write /etc/kubelet.conf"},
	}
	got := sortedPlan(rep.Plan)
	if len(got) != len(want) {
		t.Fatalf("plan = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("plan[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, p := range rep.Phases {
		if p.Status != StatusPlanned {
			t.Fatalf("phase %s status %s, want planned", p.Name, p.Status)
		}
	}
	planned := 0
	for _, e := range events {
		if e.Kind == Planned {
			planned++
		}
	}
	if planned != len(want) {
		t.Fatalf("%d planned events, want %d", planned, len(want))
	}

	var text bytes.Buffer
	if err := (&Plan{Items: got}).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	wantText := `Plan: 4 changes
containerd (containerd)
  cp1
    - write /etc/containerd.conf
  w1
    - write /etc/containerd.conf
Init cluster (init-cluster)
  cp1
    - run kubeadm init
kubelet (kubelet)
  w1
    - write /etc/kubelet.conf
`
	if text.String() != wantText {
		t.Fatalf("text plan:\n%s\nwant:\n%s", text.String(), wantText)
	}
	var js bytes.Buffer
	if err := rep.Plan.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Items) != 4 {
		t.Fatalf("JSON plan does not round-trip: %v %s", err, js.String())
	}

	// The same phases for real change exactly what the plan listed.
	if _, err := New(Options{Action: "install"}, phases[0], phases[2]).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"cp1", "w1"} {
		if _, ok := state.Load(h); !ok {
			t.Fatalf("real run did not change %s", h)
		}
	}
}

func TestEmptyPlanText(t *testing.T) {
	var b bytes.Buffer
	(&Plan{}).WriteText(&b)
	if strings.TrimSpace(b.String()) != "Plan: nothing to change." {
		t.Fatalf("got %q", b.String())
	}
}

// sortedPlan orders items by phase order of appearance, then host, since hosts of one phase run in parallel.
func sortedPlan(p *Plan) []PlanItem {
	items := append([]PlanItem(nil), p.Items...)
	order := map[string]int{}
	for _, it := range items {
		if _, ok := order[it.Phase]; !ok {
			order[it.Phase] = len(order)
		}
	}
	for i := 1; i < len(items); i++ {
		for k := i; k > 0; k-- {
			a, b := items[k-1], items[k]
			if order[a.Phase] > order[b.Phase] || (order[a.Phase] == order[b.Phase] && a.Host > b.Host) {
				items[k-1], items[k] = b, a
			}
		}
	}
	return items
}

// TestPlanTextGroupsHosts checks that interleaved items of parallel hosts print host by host within each phase.
func TestPlanTextGroupsHosts(t *testing.T) {
	p := &Plan{Items: []PlanItem{
		{Phase: "lb", Title: "LB", Host: "cp2", Kind: KindChange, Action: "write a"},
		{Phase: "lb", Title: "LB", Host: "cp1", Kind: KindChange, Action: "write a"},
		{Phase: "lb", Title: "LB", Host: "cp2", Kind: KindChange, Action: "start"},
		{Phase: "lb", Title: "LB", Host: "cp1", Kind: KindChange, Action: "start"},
		{Phase: "init", Title: "Init", Host: "cp1", Kind: KindChange, Action: "kubeadm init"},
	}}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "Plan: 5 changes\nLB (lb)\n  cp2\n    - write a\n    - start\n  cp1\n    - write a\n    - start\nInit (init)\n  cp1\n    - kubeadm init\n"
	if b.String() != want {
		t.Errorf("plan text:\n%s\nwant:\n%s", b.String(), want)
	}
}
