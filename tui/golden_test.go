package tui

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// Golden screens: each page of the wizard in a fixed 100×32 terminal, run as a real bubbletea program by teatest
// (async probes, streams and all), captured as plain text. Update with: go test ./tui -run Golden -update

const goldenW, goldenH = 100, 32

// memFiles keeps writes in memory, so goldens never touch the working tree.
type memFiles struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (f *memFiles) WriteFile(path string, data []byte, overwrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[path]; ok && !overwrite {
		return ErrExists
	}
	f.files[path] = data
	return nil
}

// step is one stretch of the script: keys to press, then text to wait for on screen.
type step struct {
	golden string // name of the golden taken after this step; "" for none
	keys   []string
	wait   string
}

func goldenScript() []step {
	enters := func(n int) []string { return strings.Split(strings.Repeat("enter ", n), " ")[:n] }
	return []step{
		{golden: "01-cluster", wait: "step 1/12 Cluster"},
		{golden: "02-ssh", keys: append(enters(3+8), "enter"), wait: "✓ connected to 172.30.10.11 (cp1)"},
		{golden: "03-hosts", keys: []string{"enter"}, wait: "✓ worker1, 4 NICs"},
		{golden: "03-hosts-edit", keys: []string{"e"}, wait: "becomes the Kubernetes node name"},
		{keys: []string{"esc"}, wait: "t/T test"},
		{golden: "04-networks", keys: []string{"enter"}, wait: "Subnets seen on the hosts"},
		{golden: "05-nics", keys: enters(8), wait: "step 5/12 NICs"},
		{golden: "06-vip", keys: []string{"enter"}, wait: "step 6/12 API VIP"},
		{golden: "07-dns", keys: enters(5), wait: "step 7/12 DNS"},
		{golden: "08-registries-storage", keys: enters(4), wait: "step 8/12 Registries"},
		{golden: "09-review", keys: []string{"enter"}, wait: "step 9/12 Review"},
		{golden: "10-write", keys: []string{"enter"}, wait: "step 10/12 Write"},
		{golden: "10-written", keys: []string{"enter"}, wait: "✓ Wrote"},
		{golden: "11-preflight", keys: []string{"enter", "enter"}, wait: "check(s) failed"},
		{golden: "12-install", keys: []string{"enter", "enter", "y"}, wait: "install failed"},
	}
}

func goldenOptions(t *testing.T) Options {
	t.Helper()
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, problems := inventory.Parse("lab.yaml", data)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var req InstallRequest
	return Options{
		Inventory:  inv,
		Output:     "inventory.yaml",
		Bundle:     "berth-v1.31.4.tar",
		Discoverer: labDiscoverer(),
		Files:      &memFiles{files: map[string][]byte{}},
		Preflighter: scriptedPreflight{checks: []Check{
			{Host: "cp1", Name: "facts", Status: CheckPass, Detail: "read"},
			{Host: "cp1", Name: "os", Status: CheckPass, Detail: "debian 12, kernel 6.1.0"},
			{Host: "cp1", Name: "swap", Status: CheckPass, Detail: "off"},
			{Host: "worker1", Name: "facts", Status: CheckPass, Detail: "read"},
			{Host: "worker1", Name: "nic/control", Status: CheckFail, Detail: "no interface eth1",
				Fix: "connect worker1 to plane control, or correct hosts[worker1].nics.control.interface"},
			{Host: "", Name: "clock", Status: CheckWarn, Detail: "skew 700ms between cp1 and worker1", Fix: "run chrony or ntpd on every host"},
		}},
		Installer: &scriptedInstall{got: &req, err: errors.New("join workers: failed on 1 host: worker1"), events: []phase.Event{
			{Kind: phase.PhaseStart, Phase: "connect", Title: "Connect"},
			{Kind: phase.HostFinish, Phase: "connect", Host: "cp1", Status: phase.StatusOK},
			{Kind: phase.HostFinish, Phase: "connect", Host: "worker1", Status: phase.StatusOK},
			{Kind: phase.PhaseFinish, Phase: "connect", Status: phase.StatusOK},
			{Kind: phase.PhaseStart, Phase: "stage-bundle", Title: "Stage bundle"},
			{Kind: phase.Progress, Phase: "stage-bundle", Host: "cp1", Done: 3, Total: 4},
			{Kind: phase.HostFinish, Phase: "stage-bundle", Host: "worker1", Status: phase.StatusSkipped, Message: "done in an earlier run"},
			{Kind: phase.HostFinish, Phase: "stage-bundle", Host: "cp1", Status: phase.StatusOK},
			{Kind: phase.PhaseFinish, Phase: "stage-bundle", Status: phase.StatusOK},
			{Kind: phase.PhaseStart, Phase: "init", Title: "kubeadm init"},
			{Kind: phase.Log, Phase: "init", Host: "cp1", Message: "control plane up in 9s"},
			{Kind: phase.HostFinish, Phase: "init", Host: "cp1", Status: phase.StatusOK},
			{Kind: phase.PhaseFinish, Phase: "init", Status: phase.StatusOK},
			{Kind: phase.PhaseStart, Phase: "join-workers", Title: "Join workers"},
			{Kind: phase.HostFinish, Phase: "join-workers", Host: "worker1", Status: phase.StatusFailed, Err: `run "kubeadm join" on worker1: exit status 1`},
			{Kind: phase.PhaseFinish, Phase: "join-workers", Status: phase.StatusFailed},
		}},
	}
}

// runScript runs steps in a fresh program and returns the final screen.
func runScript(t *testing.T, opts Options, steps []step) string {
	t.Helper()
	m := New(opts)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(goldenW, goldenH))
	for _, s := range steps {
		for _, k := range s.keys {
			tm.Send(keyMsg(k))
		}
		if s.wait != "" {
			want := s.wait
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains([]byte(ansi.Strip(string(b))), []byte(want)) },
				teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
		}
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	return ansi.Strip(final.View()) + "\n"
}

func TestGoldenPages(t *testing.T) {
	script := goldenScript()
	for i, s := range script {
		if s.golden == "" {
			continue
		}
		t.Run(s.golden, func(t *testing.T) {
			golden.RequireEqual(t, []byte(runScript(t, goldenOptions(t), script[:i+1])))
		})
	}
}

func TestGoldenReviewWithProblems(t *testing.T) {
	opts := goldenOptions(t)
	opts.Inventory.Hosts[1].NICs.Control.Address = "172.30.99.21"
	opts.Inventory.ControlPlane.VIP = "172.30.20.11"
	steps := append(goldenScript()[:10], step{keys: []string{"enter"}, wait: "2 error(s)"}) // through the registries page
	out := runScript(t, opts, steps)
	golden.RequireEqual(t, []byte(out))
}

func TestGoldenNarrowTerminal(t *testing.T) {
	opts := goldenOptions(t)
	m := New(opts)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(60, 20))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Cluster name")) })
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(ansi.Strip(final.View())+"\n"))
}

func TestGoldenInstallUnavailable(t *testing.T) {
	opts := goldenOptions(t)
	opts.Installer = nil
	opts.Preflighter = nil
	steps := goldenScript()[:13] // up to the written file
	steps = append(steps, step{golden: "x", keys: []string{"enter", "enter"}, wait: "step 12/12 Install"})
	golden.RequireEqual(t, []byte(runScript(t, opts, steps)))
}
