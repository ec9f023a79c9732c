package phase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder notes calls from every phase of a test, in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// fakePhase is a configurable phase for runner tests.
type fakePhase struct {
	Base
	title      string
	rec        *recorder
	prepareErr error
	runErr     error
	should     *bool
	always     bool
}

func (f *fakePhase) Title() string { return f.title }
func (f *fakePhase) Prepare(context.Context) error {
	f.rec.add("prepare " + f.title)
	return f.prepareErr
}
func (f *fakePhase) ShouldRun() bool { return f.should == nil || *f.should }
func (f *fakePhase) AlwaysRun() bool { return f.always }
func (f *fakePhase) Run(context.Context) error {
	f.rec.add("run " + f.title)
	return f.runErr
}
func (f *fakePhase) CleanUp(context.Context) { f.rec.add("cleanup " + f.title) }

func TestRunnerOrderAndLifecycle(t *testing.T) {
	rec := &recorder{}
	no := false
	phases := []Phase{
		&fakePhase{title: "Connect", rec: rec, always: true},
		&fakePhase{title: "Gather facts", rec: rec},
		&fakePhase{title: "Nothing here", rec: rec, should: &no},
		Group("Control plane", &fakePhase{title: "Init", rec: rec}, &fakePhase{title: "Join", rec: rec}),
		&fakePhase{title: "Wait ready", rec: rec},
	}
	rep, err := New(Options{Action: "test"}, phases...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"prepare Connect", "run Connect",
		"prepare Gather facts", "run Gather facts",
		"prepare Nothing here",
		"prepare Init", "run Init",
		"prepare Join", "run Join",
		"prepare Wait ready", "run Wait ready",
		"cleanup Wait ready", "cleanup Join", "cleanup Init", "cleanup Nothing here", "cleanup Gather facts", "cleanup Connect",
	}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("calls:\n got %q\nwant %q", got, want)
	}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name+"="+string(p.Status))
	}
	wantNames := []string{"connect=ok", "gather-facts=ok", "nothing-here=skipped", "control-plane/init=ok", "control-plane/join=ok", "wait-ready=ok"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("report: got %q want %q", names, wantNames)
	}
}

func TestRunnerStopsAtFailureAndCleansUp(t *testing.T) {
	rec := &recorder{}
	boom := errors.New("boom")
	phases := []Phase{
		&fakePhase{title: "One", rec: rec},
		&fakePhase{title: "Two", rec: rec, runErr: boom},
		&fakePhase{title: "Three", rec: rec},
	}
	rep, err := New(Options{Action: "test"}, phases...).Run(context.Background())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "Two: ") {
		t.Fatalf("err = %v, want Two: boom", err)
	}
	want := []string{"prepare One", "run One", "prepare Two", "run Two", "cleanup Two", "cleanup One"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("calls: got %q want %q", got, want)
	}
	if len(rep.Phases) != 2 || rep.Phases[1].Status != StatusFailed || rep.Phases[1].Err != "boom" {
		t.Fatalf("report phases = %+v", rep.Phases)
	}
}

func TestRunnerPrepareFailure(t *testing.T) {
	rec := &recorder{}
	_, err := New(Options{Action: "test"},
		&fakePhase{title: "One", rec: rec, prepareErr: errors.New("no facts")},
		&fakePhase{title: "Two", rec: rec}).Run(context.Background())
	if err == nil || err.Error() != "One: prepare: no facts" {
		t.Fatalf("err = %v", err)
	}
	if got := rec.get(); !slices.Equal(got, []string{"prepare One", "cleanup One"}) {
		t.Fatalf("calls = %q", got)
	}
}

func TestRunnerSelection(t *testing.T) {
	mk := func(rec *recorder) []Phase {
		return []Phase{
			&fakePhase{title: "Connect", rec: rec, always: true},
			&fakePhase{title: "Stage", rec: rec},
			Group("Control plane", &fakePhase{title: "Init", rec: rec}, &fakePhase{title: "Join", rec: rec}),
			&fakePhase{title: "Workers", rec: rec},
		}
	}
	tests := []struct {
		name    string
		opts    Options
		wantRun []string
		wantErr string
	}{
		{name: "skip one", opts: Options{Skip: []string{"stage"}},
			wantRun: []string{"Connect", "Init", "Join", "Workers"}},
		{name: "skip group", opts: Options{Skip: []string{"control-plane"}},
			wantRun: []string{"Connect", "Stage", "Workers"}},
		{name: "only one keeps always-run phases", opts: Options{Only: []string{"control-plane/join"}},
			wantRun: []string{"Connect", "Join"}},
		{name: "only group", opts: Options{Only: []string{"control-plane"}},
			wantRun: []string{"Connect", "Init", "Join"}},
		{name: "explicit skip beats always", opts: Options{Skip: []string{"connect"}, Only: []string{"workers"}},
			wantRun: []string{"Workers"}},
		{name: "unknown name", opts: Options{Skip: []string{"stagee"}},
			wantErr: `no phase is named "stagee"; phases: connect, stage, control-plane, control-plane/init, control-plane/join, workers`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tc.opts.Action = "test"
			_, err := New(tc.opts, mk(rec)...).Run(context.Background())
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				if len(rec.get()) != 0 {
					t.Fatalf("phases ran despite the error: %q", rec.get())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ran []string
			for _, c := range rec.get() {
				if t, ok := strings.CutPrefix(c, "run "); ok {
					ran = append(ran, t)
				}
			}
			if !slices.Equal(ran, tc.wantRun) {
				t.Fatalf("ran %q, want %q", ran, tc.wantRun)
			}
		})
	}
}

func TestRunnerEventsInOrder(t *testing.T) {
	var got []string
	obs := ObserverFunc(func(e Event) {
		s := string(e.Kind) + " " + e.Phase
		if e.Host != "" {
			s += " " + e.Host
		}
		if e.Status != "" {
			s += " " + string(e.Status)
		}
		got = append(got, s)
	})
	p := &hostPhase{title: "Apply", hosts: []string{"a"}, fail: map[string]bool{}}
	if _, err := New(Options{Action: "test", Observers: []Observer{obs}}, p).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"phase-start apply", "host-start apply a", "log apply a", "host-finish apply a ok", "phase-finish apply ok"}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// hostPhase changes a fake per-host state through the gate, failing on chosen hosts.
type hostPhase struct {
	Base
	title string
	hosts []string
	fail  map[string]bool
	state *sync.Map // host -> value written
	runs  *sync.Map // host -> times fn ran
}

func (p *hostPhase) Title() string { return p.title }
func (p *hostPhase) Run(ctx context.Context) error {
	return p.Each(ctx, p.hosts, func(ctx context.Context, h string) error {
		if p.runs != nil {
			n, _ := p.runs.LoadOrStore(h, new(int))
			*n.(*int)++
		}
		p.Logf(h, "working")
		if p.fail[h] {
			return fmt.Errorf("disk full")
		}
		return p.Wet(h, "write /etc/"+p.title+".conf", func() error {
			if p.state != nil {
				p.state.Store(h, p.title)
			}
			return nil
		})
	})
}

// TestReportCountsChangesMade checks Report.Made: every change through the gate in a real run, none in a dry run.
func TestReportCountsChangesMade(t *testing.T) {
	phases := func() []Phase {
		return []Phase{
			&hostPhase{title: "containerd", hosts: []string{"cp1", "w1"}},
			&hostPhase{title: "kubelet", hosts: []string{"w1"}},
		}
	}
	rep, err := New(Options{Action: "install"}, phases()...).Run(context.Background())
	if err != nil || rep.Made != 3 {
		t.Fatalf("real run: made %d changes (err %v), want 3", rep.Made, err)
	}
	rep, err = New(Options{Action: "install", DryRun: true}, phases()...).Run(context.Background())
	if err != nil || rep.Made != 0 || len(rep.Plan.Items) != 3 {
		t.Fatalf("dry run: made %d, planned %d (err %v); want 0 and 3", rep.Made, len(rep.Plan.Items), err)
	}
}
