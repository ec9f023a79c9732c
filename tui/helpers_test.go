package tui

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

func init() {
	// Goldens and assertions read plain text: no colour profile surprises from the terminal running the tests.
	lipgloss.SetColorProfile(termenv.Ascii)
}

// scriptedDiscoverer answers probes from a table by address (unit tests only: the real one is tested on lab hosts
// through cmd/berth).
type scriptedDiscoverer struct {
	mu     sync.Mutex
	facts  map[string]HostFacts
	errs   map[string]error
	probes []inventory.SSHTarget
}

func (d *scriptedDiscoverer) Probe(_ context.Context, t inventory.SSHTarget, _ string) (HostFacts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.probes = append(d.probes, t)
	if err := d.errs[t.Address]; err != nil {
		return HostFacts{}, err
	}
	f, ok := d.facts[t.Address]
	if !ok {
		return HostFacts{}, fmt.Errorf("dial tcp %s:%d: connect: no route to host", t.Address, t.Port)
	}
	f.User = t.User
	return f, nil
}

// labFacts are the facts of a lab-like host: eth0..eth3 on the four planes 172.30.{10,20,30,40}.0/24, host
// number n.
func labFacts(name string, n int) HostFacts {
	f := HostFacts{Hostname: name, Sudo: "ok",
		Neighbors: []netip.Addr{netip.MustParseAddr("172.30.10.1"), netip.MustParseAddr("172.30.20.254")}}
	for i, net := range []int{10, 20, 30, 40} {
		f.Interfaces = append(f.Interfaces, Interface{Name: fmt.Sprintf("eth%d", i), Up: true,
			Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("172.30.%d.%d/24", net, n))}})
	}
	return f
}

func labDiscoverer() *scriptedDiscoverer {
	return &scriptedDiscoverer{facts: map[string]HostFacts{
		"172.30.10.11": labFacts("cp1", 11),
		"172.30.10.21": labFacts("worker1", 21),
	}, errs: map[string]error{}}
}

// dirFiles writes into a test's directory with the same no-overwrite rule as berth's.
type dirFiles struct {
	mu     sync.Mutex
	writes []string
}

func (f *dirFiles) WriteFile(path string, data []byte, overwrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !overwrite {
		flags |= os.O_EXCL
	}
	file, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return ErrExists
	}
	if err != nil {
		return err
	}
	defer file.Close()
	f.writes = append(f.writes, path)
	_, err = file.Write(data)
	return err
}

// scriptedPreflight reports a fixed list of checks.
type scriptedPreflight struct{ checks []Check }

func (p scriptedPreflight) Preflight(_ context.Context, inv *inventory.Inventory, report func(Check)) error {
	for _, h := range inv.Hosts {
		report(Check{Host: h.Name, Name: "facts", Status: CheckRunning})
	}
	for _, c := range p.checks {
		report(c)
	}
	return nil
}

// scriptedInstall replays events, as the runner would emit them.
type scriptedInstall struct {
	events []phase.Event
	err    error
	got    *InstallRequest
}

func (s *scriptedInstall) Install(_ context.Context, req InstallRequest, obs phase.Observer) error {
	*s.got = req
	for _, e := range s.events {
		obs.Observe(e)
	}
	return s.err
}

// driver feeds messages to a Model and runs the commands it returns to completion, synchronously, the way the
// bubbletea runtime would (minus the concurrency).
type driver struct {
	t    *testing.T
	m    *Model
	quit bool
}

func newDriver(t *testing.T, opts Options) *driver {
	t.Helper()
	if opts.Output == "" {
		opts.Output = filepath.Join(t.TempDir(), "inventory.yaml")
	}
	if opts.Files == nil {
		opts.Files = &dirFiles{}
	}
	d := &driver{t: t, m: New(opts)}
	d.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	d.run(d.m.Init())
	return d
}

func (d *driver) send(msgs ...tea.Msg) {
	for _, msg := range msgs {
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case tea.QuitMsg:
		d.quit = true
	default:
		d.send(msg)
	}
}

// keys sends key presses: names like "enter", "tab", "ctrl+c", or any other string typed as text.
func (d *driver) keys(keys ...string) {
	for _, k := range keys {
		d.send(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyMsg {
	named := map[string]tea.KeyType{"enter": tea.KeyEnter, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"esc": tea.KeyEsc, "ctrl+c": tea.KeyCtrlC, "up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft,
		"right": tea.KeyRight, "space": tea.KeySpace, "ctrl+t": tea.KeyCtrlT, "ctrl+p": tea.KeyCtrlP,
		"pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "backspace": tea.KeyBackspace, "ctrl+u": tea.KeyCtrlU}
	if t, ok := named[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// screen is the current view as plain text.
func (d *driver) screen() string { return ansi.Strip(d.m.View()) }

// page is the title of the current page.
func (d *driver) page() string { return d.m.pages[d.m.cur].title() }

func (d *driver) requirePage(want string) {
	d.t.Helper()
	if got := d.page(); got != want {
		d.t.Fatalf("on page %q, want %q\n%s", got, want, d.screen())
	}
}

func (d *driver) requireScreen(parts ...string) {
	d.t.Helper()
	s := d.screen()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			d.t.Fatalf("screen lacks %q:\n%s", p, s)
		}
	}
}

// exampleInventory parses the inventory example shipped with berth, as --from would.
func exampleInventory(t *testing.T) (*inventory.Inventory, []byte) {
	t.Helper()
	data, err := os.ReadFile("../inventory/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, problems := inventory.Parse("example.yaml", data)
	if len(problems) > 0 {
		t.Fatalf("example: %v", problems)
	}
	return inv, data
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
