package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// terminal drives a program in a real terminal: a detached tmux session, keys in with send-keys, the screen out
// with capture-pane.
type terminal struct {
	t       *testing.T
	session string
}

func newTerminal(t *testing.T, width, height int, command string) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if labtest.InCI() {
			t.Fatal("CI is set and tmux is missing (make deps installs it)")
		}
		t.Skip("tmux is not installed (make deps installs it); set CI=true to make this a failure")
	}
	term := &terminal{t: t, session: fmt.Sprintf("berth-wizard-test-%d", os.Getpid())}
	term.tmux("kill-session", "-t", term.session) // a leftover of an interrupted run
	if out, err := term.tmuxOut("new-session", "-d", "-s", term.session, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height),
		"-e", "TERM=xterm-256color", command); err != nil {
		t.Fatalf("start tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { term.tmux("kill-session", "-t", term.session) })
	return term
}

func (term *terminal) tmuxOut(args ...string) (string, error) {
	out, err := exec.Command("tmux", args...).CombinedOutput()
	return string(out), err
}

func (term *terminal) tmux(args ...string) { _, _ = term.tmuxOut(args...) }

// keys presses named keys (Enter, Tab, Right, C-c …).
func (term *terminal) keys(keys ...string) {
	term.t.Helper()
	for _, k := range keys {
		if out, err := term.tmuxOut("send-keys", "-t", term.session, k); err != nil {
			term.t.Fatalf("send-keys %s: %v\n%s", k, err, out)
		}
		time.Sleep(30 * time.Millisecond) // one key per frame, as a person types
	}
}

// text types text literally.
func (term *terminal) text(s string) {
	term.t.Helper()
	if out, err := term.tmuxOut("send-keys", "-t", term.session, "-l", s); err != nil {
		term.t.Fatalf("send-keys %q: %v\n%s", s, err, out)
	}
	time.Sleep(30 * time.Millisecond)
}

func (term *terminal) screen() string {
	out, err := term.tmuxOut("capture-pane", "-p", "-t", term.session)
	if err != nil {
		term.t.Fatalf("capture-pane: %v\n%s", err, out)
	}
	return out
}

// waitFor waits until every part is on screen and returns the screen.
func (term *terminal) waitFor(timeout time.Duration, parts ...string) string {
	term.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := term.screen()
		missing := ""
		for _, p := range parts {
			if !strings.Contains(s, p) {
				missing = p
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("after %s the screen lacks %q:\n%s", timeout, missing, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// enterUntil presses enter until text shows (a page title), at most n times.
func (term *terminal) enterUntil(text string, n int) {
	term.t.Helper()
	for i := 0; i < n; i++ {
		if strings.Contains(term.screen(), text) {
			return
		}
		term.keys("Enter")
		time.Sleep(100 * time.Millisecond)
	}
	term.waitFor(5*time.Second, text)
}

// TestWizardInATerminalOnLabHosts runs the built berth binary in tmux against real lab hosts: it fills every
// page as an operator would, sees the NICs discovered over SSH on screen, writes the inventory, runs the real
// preflight from the wizard, and checks that the file validates and matches the lab.
func TestWizardInATerminalOnLabHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth and needs a lab and tmux; skipped under -short")
	}
	// Its own lab, new every run: the wizard installs a cluster on it.
	l := labtest.RequireFresh(t, lab.Options{Name: "t-wizard-install", ControlPlanes: 1, Workers: 1})
	bundle, key := labtest.RequireBundle(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "berth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build berth: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "inventory.yaml")
	term := newTerminal(t, 120, 42, fmt.Sprintf("%s wizard --out %s -b %s --key %s --log-file %s; echo WIZARD-EXIT=$?; sleep 600",
		bin, out, bundle, key, filepath.Join(dir, "wizard.log")))
	wait := 15 * time.Second

	term.waitFor(wait, "step 1/12 Cluster")
	term.text("wizard-e2e")
	term.keys("Enter", "Right", "Enter", "Enter") // environment dev
	term.waitFor(wait, "step 2/12 SSH access")
	term.text(l.User)
	term.keys("Enter", "Enter")
	term.text(l.KeyPath)
	term.keys("Enter", "Enter", "Enter")
	term.text(l.KnownHostsPath)
	term.keys("Enter", "Enter")
	first := l.Hosts[0]
	term.text(first.NICs[inventory.Management].Address)
	term.keys("Enter", "Enter")
	term.waitFor(time.Minute, fmt.Sprintf("connected to %s (%s) as %s, sudo works", first.NICs[inventory.Management].Address, first.Name, l.User))
	term.keys("Enter")
	term.waitFor(wait, "step 3/12 Hosts")

	// Control planes first: the first host added is proposed as control plane, the next ones as workers.
	hosts := append(hostsWith(l, inventory.RoleControlPlane, true), hostsWith(l, inventory.RoleControlPlane, false)...)
	for _, h := range hosts {
		term.keys("a")
		term.waitFor(wait, "Address")
		term.text(h.NICs[inventory.Management].Address)
		term.keys("Enter", "Enter")
		term.waitFor(time.Minute, fmt.Sprintf("✓ %s, ", h.Name)) // probed over SSH, named after its hostname
	}
	term.keys("Enter")
	term.waitFor(wait, "step 4/12 Networks", "Subnets seen on the hosts")
	for _, plane := range inventory.AllPlanes {
		term.text(l.Subnets[plane].String())
		term.keys("Enter", "Enter") // the CIDR, then its VLAN
	}
	term.keys("Enter", "Enter")                                                  // pod and service networks: defaults
	screen := strings.ReplaceAll(term.waitFor(wait, "step 5/12 NICs"), "‹ ", "") // the selected row is bracketed
	for _, h := range l.Hosts {
		for _, plane := range inventory.AllPlanes {
			nic := h.NICs[plane]
			want := fmt.Sprintf("%-12s%-12s%s", plane, nic.Interface, nic.Address)
			if !strings.Contains(screen, want) {
				t.Errorf("NIC page does not show %s's discovered %s NIC %q:\n%s", h.Name, plane, want, screen)
			}
		}
	}
	if strings.Count(screen, "✓ discovered") != len(l.Hosts)*len(inventory.AllPlanes) {
		t.Errorf("not every NIC was chosen from discovery:\n%s", screen)
	}
	term.keys("Enter")
	term.waitFor(wait, "step 6/12 API VIP")
	term.enterUntil("step 7/12 DNS", 8)
	term.text("172.30.10.53")
	term.enterUntil("step 8/12 Registries", 6)
	term.keys("Enter")
	term.waitFor(wait, "step 9/12 Review", "Valid")
	term.keys("Enter")
	term.waitFor(wait, "step 10/12 Write")
	term.keys("Enter")
	term.waitFor(wait, "✓ Wrote")

	inv, err := inventory.Load(out)
	if err != nil {
		t.Fatalf("the wizard's inventory does not validate: %v", err)
	}
	for _, h := range l.Hosts {
		got := inv.Host(h.Name)
		if got == nil {
			t.Fatalf("host %s missing from the written inventory", h.Name)
		}
		for _, plane := range inventory.AllPlanes {
			if n := got.NICs.Get(plane); n == nil || n.Interface != h.NICs[plane].Interface || n.Address != h.NICs[plane].Address {
				t.Errorf("%s %s NIC %+v, lab has %+v", h.Name, plane, n, h.NICs[plane])
			}
		}
	}
	if pfx := l.Subnets[inventory.Control]; !pfx.Contains(mustAddr(t, inv.ControlPlane.VIP)) {
		t.Errorf("VIP %s outside the control plane %s", inv.ControlPlane.VIP, pfx)
	}

	// Preflight from the wizard: the real checks over SSH, as a live checklist.
	term.keys("Enter")
	term.waitFor(wait, "step 11/12 Preflight")
	term.keys("Enter")
	screen = term.waitFor(3*time.Minute, "All ", "checks passed")
	for _, part := range []string{first.Name, "✓ facts", "✓ swap"} {
		if !strings.Contains(screen, part) {
			t.Errorf("preflight checklist lacks %q:\n%s", part, screen)
		}
	}
	// Install from the wizard: the real installer, from the signed lab bundle suggested by -b, shown phase by
	// phase; then berth status sees the cluster it made.
	term.keys("Enter")
	term.waitFor(wait, "step 12/12 Install", "Bundle", bundle, "Start install")
	term.keys("Enter")
	term.waitFor(wait, "This changes 2 host(s)", "Start? y/n")
	term.keys("y")
	term.waitFor(wait, "Installing…", "PHASE", first.Name)
	screen = term.waitFor(25*time.Minute, "✓ Installed.")
	for _, part := range []string{"PHASE", first.Name, "✓ Write the admin kubeco"} {
		if !strings.Contains(screen, part) {
			t.Errorf("the install page lacks %q:\n%s", part, screen)
		}
	}
	if strings.Contains(screen, "✗") {
		t.Errorf("the install page shows a failure:\n%s", screen)
	}
	term.keys("q")
	term.waitFor(wait, "wrote "+out, "preflight: passed", "install: done", "WIZARD-EXIT=0")

	status, err := exec.Command(bin, "status", "-i", out).CombinedOutput()
	if err != nil {
		t.Fatalf("berth status on the wizard's cluster: %v\n%s", err, status)
	}
	for _, h := range l.Hosts {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(h.Name) + `\s.*\bReady\b`).Match(status) {
			t.Errorf("berth status does not show %s Ready:\n%s", h.Name, status)
		}
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hostsWith(l *lab.Lab, role inventory.Role, with bool) []lab.Host {
	var out []lab.Host
	for _, h := range l.Hosts {
		has := false
		for _, r := range h.Roles {
			has = has || r == role
		}
		if has == with {
			out = append(out, h)
		}
	}
	return out
}
