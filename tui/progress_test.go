package tui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/phase"
)

// writtenExample drives a --from example inventory to a written file and returns the driver on the Write page.
func writtenExample(t *testing.T, opts Options) *driver {
	t.Helper()
	inv, _ := exampleInventory(t)
	opts.Inventory = inv
	opts.Output = filepath.Join(t.TempDir(), "inventory.yaml")
	d := newDriver(t, opts)
	d.enterUntil("Write", 80)
	d.keys("enter")
	d.requireWritten(opts.Output)
	return d
}

func TestPreflightChecklist(t *testing.T) {
	pf := scriptedPreflight{checks: []Check{
		{Host: "cp1", Name: "facts", Status: CheckPass, Detail: "read"},
		{Host: "cp1", Name: "swap", Status: CheckPass, Detail: "off"},
		{Host: "worker1", Name: "facts", Status: CheckPass, Detail: "read"},
		{Host: "worker1", Name: "nic/control", Status: CheckFail, Detail: "eth1 not found",
			Fix: "connect the host to plane control, or correct hosts[worker1].nics.control.interface"},
		{Host: "", Name: "clock", Status: CheckWarn, Detail: "skew 700ms", Fix: "run chrony on every host"},
	}}
	d := writtenExample(t, Options{Preflighter: pf})
	d.keys("enter")
	d.requirePage("Preflight")
	d.requireScreen("enter runs the checks on 7 host(s).")
	d.keys("enter")
	if d.m.pf.running || !d.m.pf.done {
		t.Fatal("preflight did not finish")
	}
	d.requireScreen("✗ 1 check(s) failed", "3 passed, 1 warning(s)",
		"cp1", "✓ swap", "worker1", "✗ nic/control", "eth1 not found",
		"fix: connect the host to plane control", "all hosts", "! clock")
	// Checks of one host stay together even when reported late.
	s := d.screen()
	if strings.Index(s, "✗ nic/control") < strings.Index(s, "worker1") || strings.Index(s, "✓ swap") > strings.Index(s, "worker1") {
		t.Errorf("checks not grouped by host:\n%s", s)
	}
	if d.m.Result().Preflight != "failed" {
		t.Errorf("result %+v", d.m.Result())
	}
	// The hosts still show their facts line, replaced by its outcome, not duplicated.
	if n := strings.Count(s, "facts"); n != 7 {
		t.Errorf("%d facts lines, want one per host (7):\n%s", n, s)
	}
}

func TestPreflightNeedsTheWrittenFile(t *testing.T) {
	inv, _ := exampleInventory(t)
	d := newDriver(t, Options{Inventory: inv, Preflighter: scriptedPreflight{}})
	d.m.goTo(pageIndex[*preflightPage](d.m))
	d.keys("enter")
	if d.m.pf.running || d.m.pf.done {
		t.Fatal("preflight ran on an inventory that was never written")
	}
	if !strings.Contains(d.m.flash, "write the inventory first") {
		t.Fatalf("flash %q", d.m.flash)
	}
}

func TestInstallShowsPhasesPerHost(t *testing.T) {
	ev := func(kind phase.Kind, ph, host string, status phase.Status) phase.Event {
		return phase.Event{Kind: kind, Phase: ph, Title: titleOf(ph), Host: host, Status: status, Duration: time.Second}
	}
	var req InstallRequest
	inst := &scriptedInstall{got: &req, err: errors.New("join control planes: failed on 1 host"), events: []phase.Event{
		ev(phase.PhaseStart, "connect", "", ""),
		ev(phase.HostStart, "connect", "cp1", ""), ev(phase.HostFinish, "connect", "cp1", phase.StatusOK),
		ev(phase.HostStart, "connect", "cp2", ""), ev(phase.HostFinish, "connect", "cp2", phase.StatusOK),
		ev(phase.PhaseFinish, "connect", "", phase.StatusOK),
		{Kind: phase.PhaseStart, Phase: "stage-bundle", Title: "Stage bundle"},
		{Kind: phase.Progress, Phase: "stage-bundle", Host: "cp1", Done: 50, Total: 200, Message: "upload"},
		{Kind: phase.HostFinish, Phase: "stage-bundle", Host: "cp2", Status: phase.StatusSkipped, Message: "done in an earlier run"},
		{Kind: phase.Log, Phase: "stage-bundle", Host: "cp1", Message: "images.tar already there"},
		{Kind: phase.PhaseStart, Phase: "join-control-planes", Title: "Join control planes"},
		{Kind: phase.HostFinish, Phase: "join-control-planes", Host: "cp2", Status: phase.StatusFailed,
			Err: `run "kubeadm join" on cp2: exit status 1`},
		{Kind: phase.PhaseFinish, Phase: "join-control-planes", Status: phase.StatusFailed},
	}}
	d := writtenExample(t, Options{Installer: inst, Bundle: "berth-v1.31.4.tar"})
	d.keys("i")
	d.requirePage("Install")
	d.requireScreen("Bundle  berth-v1.31.4.tar", "[ Start install ]")
	d.keys("enter")
	d.requireScreen("This changes 7 host(s)")
	d.keys("y")
	if req.Bundle != "berth-v1.31.4.tar" || req.InventoryPath != d.m.Result().Written || req.Inventory == nil ||
		req.Inventory.ControlPlane.Port != 6443 {
		t.Fatalf("install request %+v (the inventory must be loaded with defaults)", req)
	}
	d.requireScreen("✗ install failed: join control planes: failed on 1 host",
		"PHASE", "cp1", "cp2",
		"✓ Connect",
		"› Stage bundle",
		"25%",
		"✗ Join control planes",
		`✗ Join control planes on cp2: run "kubeadm join" on cp2: exit status 1`,
		"cp1: images.tar already there")
	if d.m.Result().Installed != "failed" {
		t.Errorf("result %+v", d.m.Result())
	}
	grid := d.screen()
	connect := lineWith(grid, "✓ Connect")
	if strings.Count(connect, "✓") != 3 {
		t.Errorf("connect row should tick the phase and both hosts: %q", connect)
	}
	if stage := lineWith(grid, "Stage bundle"); !strings.Contains(stage, "25%") || !strings.Contains(stage, "-") {
		t.Errorf("stage row should show cp1 at 25%% and cp2 skipped: %q", stage)
	}
}

func TestInstallNotInThisBuild(t *testing.T) {
	d := writtenExample(t, Options{})
	d.keys("i")
	d.requirePage("Install")
	d.requireScreen("install is not available in this build.")
	d.keys("enter", "y")
	if d.m.inst.running || d.m.inst.done {
		t.Fatal("an install started without an installer")
	}
}

func titleOf(name string) string {
	return strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "-", " ")
}

// lineWith returns the page body's line holding part (the sidebar cut off).
func lineWith(screen, part string) string {
	for _, l := range strings.Split(screen, "\n") {
		if _, body, ok := strings.Cut(l, "│"); ok && strings.Contains(body, part) {
			return body
		}
	}
	return ""
}

// sequenceInstall answers each install with the next error of its list and records every request.
type sequenceInstall struct {
	errs []error
	reqs []InstallRequest
}

func (s *sequenceInstall) Install(_ context.Context, req InstallRequest, obs phase.Observer) error {
	s.reqs = append(s.reqs, req)
	obs.Observe(phase.Event{Kind: phase.PhaseStart, Phase: "stage-bundle", Title: "Stage bundle"})
	err := s.errs[len(s.reqs)-1]
	status := phase.StatusOK
	if err != nil {
		status = phase.StatusFailed
	}
	obs.Observe(phase.Event{Kind: phase.PhaseFinish, Phase: "stage-bundle", Status: status})
	return err
}

// After a failed install the bundle can be changed: b goes back to the bundle field with the failure shown, the
// next start uses the new path, and its success replaces the failure.
func TestInstallChangesTheBundleAfterAFailure(t *testing.T) {
	inst := &sequenceInstall{errs: []error{errors.New("open bundle berth-v1.31.3.tar: no such file or directory"), nil}}
	d := writtenExample(t, Options{Installer: inst, Bundle: "berth-v1.31.3.tar"})
	d.keys("i")
	d.requirePage("Install")
	d.keys("enter", "y")
	d.requireScreen("✗ install failed: open bundle berth-v1.31.3.tar", "b change the bundle")
	if d.m.Result().Installed != "failed" {
		t.Fatalf("result %+v", d.m.Result())
	}
	d.keys("b")
	d.requireScreen("✗ the last install failed: open bundle berth-v1.31.3.tar", "Bundle  berth-v1.31.3.tar", "[ Start install ]")
	d.keys("ctrl+u", "/srv/bundles/berth-v1.31.4.tar", "enter")
	d.requireScreen("This changes 7 host(s)")
	d.keys("y")
	if len(inst.reqs) != 2 || inst.reqs[0].Bundle != "berth-v1.31.3.tar" || inst.reqs[1].Bundle != "/srv/bundles/berth-v1.31.4.tar" {
		t.Fatalf("install requests %+v", inst.reqs)
	}
	d.requireScreen("✓ Installed.")
	if strings.Contains(d.screen(), "last install failed") || d.m.Result().Installed != "done" {
		t.Errorf("after the second install: result %+v\n%s", d.m.Result(), d.screen())
	}
	// b does nothing after a success.
	d.keys("b")
	d.requireScreen("✓ Installed.")
}
