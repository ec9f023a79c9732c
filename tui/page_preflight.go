package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

var (
	keyRun      = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run preflight"))
	keyRerun    = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run again"))
	keyToInst   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go to install"))
	keyStopWork = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "stop and quit"))
	keyScrollUp = key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "scroll"))
)

// checkMsg carries one preflight check; preflightDoneMsg ends a run.
type checkMsg struct {
	run   int
	check Check
}

type preflightDoneMsg struct {
	run int
	err error
}

// preflightState is a preflight run: its checks in the order they first appeared.
type preflightState struct {
	run     int
	running bool
	checks  []Check
	err     error
	done    bool
	ch      chan tea.Msg
}

// start runs the Preflighter in a goroutine and streams its checks into Update.
func (s *preflightState) start(m *Model, inv *inventory.Inventory) tea.Cmd {
	s.run++
	s.running, s.done, s.err, s.checks = true, false, nil, nil
	ch := make(chan tea.Msg, 64)
	s.ch = ch
	run, pf, ctx := s.run, m.opts.Preflighter, m.ctx
	go func() {
		err := pf.Preflight(ctx, inv, func(c Check) {
			select {
			case ch <- checkMsg{run: run, check: c}:
			case <-ctx.Done():
			}
		})
		select {
		case ch <- preflightDoneMsg{run: run, err: err}:
		case <-ctx.Done():
		}
		close(ch)
	}()
	return listen(ch)
}

// listen waits for the next message of a stream.
func listen(ch <-chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

func (s *preflightState) handle(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case checkMsg:
		if msg.run != s.run {
			return nil
		}
		c := msg.check
		if i := slices.IndexFunc(s.checks, func(o Check) bool { return o.Host == c.Host && o.Name == c.Name }); i >= 0 {
			s.checks[i] = c
		} else if j := lastOfHost(s.checks, c.Host); j >= 0 {
			s.checks = slices.Insert(s.checks, j+1, c) // keep each host's checks together
		} else {
			s.checks = append(s.checks, c)
		}
		return listen(s.ch)
	case preflightDoneMsg:
		if msg.run != s.run {
			return nil
		}
		s.running, s.done, s.err = false, true, msg.err
		m.result.Preflight = "passed"
		if s.failed() > 0 || msg.err != nil {
			m.result.Preflight = "failed"
		}
	}
	return nil
}

func lastOfHost(cs []Check, host string) int {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Host == host {
			return i
		}
	}
	return -1
}

func (s *preflightState) count(status CheckStatus) int {
	n := 0
	for _, c := range s.checks {
		if c.Status == status {
			n++
		}
	}
	return n
}

func (s *preflightState) failed() int { return s.count(CheckFail) }

// preflightPage runs the preflight checks against the written inventory and shows them as a live checklist.
type preflightPage struct {
	m      *Model
	scroll int
}

func newPreflightPage(m *Model) page { return &preflightPage{m: m} }

func (p *preflightPage) title() string         { return "Preflight" }
func (p *preflightPage) enter() tea.Cmd        { return nil }
func (p *preflightPage) modal() bool           { return false }
func (p *preflightPage) owns(path string) bool { return false }
func (p *preflightPage) focus(path string)     {}

func (p *preflightPage) keys() []key.Binding {
	s := p.m.pf
	switch {
	case p.m.opts.Preflighter == nil:
		return []key.Binding{keyToInst}
	case s.running:
		return []key.Binding{keyScrollUp}
	case s.done:
		return []key.Binding{keyToInst, keyRerun, keyScrollUp}
	}
	return []key.Binding{keyRun}
}

func (p *preflightPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	m, s := p.m, p.m.pf
	switch km.String() {
	case "pgup", "up":
		p.scroll = max(0, p.scroll-5)
	case "pgdown", "down":
		p.scroll += 5
	case "r":
		if s.done {
			return p.run()
		}
	case "enter":
		switch {
		case m.opts.Preflighter == nil || s.done:
			return m.next()
		case !s.running:
			return p.run()
		}
	}
	return nil
}

func (p *preflightPage) run() tea.Cmd {
	m := p.m
	if m.saved.dirty(m) {
		m.flash = "write the inventory first (esc goes back)"
		return nil
	}
	inv, err := loadWritten(m)
	if err != nil {
		m.flash = err.Error()
		return nil
	}
	p.scroll = 0
	return m.pf.start(m, inv)
}

// loadWritten returns the written inventory, defaulted and validated, the way `berth preflight -i` would read it.
func loadWritten(m *Model) (*inventory.Inventory, error) {
	inv, problems := inventory.Parse(m.result.Written, m.saved.written)
	if len(problems.Errors()) > 0 {
		return nil, &inventory.Error{File: m.result.Written, Problems: problems}
	}
	inv.SetDir(m.inv.Dir())
	inv.Default()
	if ps := inv.Validate(); len(ps.Errors()) > 0 {
		return nil, &inventory.Error{File: m.result.Written, Problems: ps}
	}
	return inv, nil
}

func (p *preflightPage) view(w, h int) string {
	m, s := p.m, p.m.pf
	var head []string
	add := func(s string) { head = append(head, strings.Split(strings.TrimRight(s, "\n"), "\n")...) }
	if m.opts.Preflighter == nil {
		add(st.warn.Render("Preflight is not available in this build."))
		add(st.dim.Render(fmt.Sprintf("Run it later with: berth preflight -i %s", orDash(m.result.Written))))
		add("")
		add("enter goes on to the install.")
		return strings.Join(head, "\n")
	}
	add(paint(st.dim, wrapText("Checks every host without changing anything: OS and kernel, CPU, memory and disk, swap, clock skew, ports, each plane's NIC and address, sudo, cgroups, kernel features.", w, "")))
	add("")
	switch {
	case !s.running && !s.done:
		add(fmt.Sprintf("enter runs the checks on %d host(s).", len(m.inv.Hosts)))
		return strings.Join(head, "\n")
	case s.running:
		add(st.dim.Render(fmt.Sprintf("Running… %d passed, %d warning(s), %d failed so far", s.count(CheckPass), s.count(CheckWarn), s.failed())))
	case s.err != nil:
		add(paint(st.err, wrapText("✗ preflight could not run: "+s.err.Error(), w, "  ")))
	case s.failed() > 0:
		add(st.err.Render(fmt.Sprintf("✗ %d check(s) failed", s.failed())) + st.dim.Render(fmt.Sprintf(", %d passed, %d warning(s): fix them before installing", s.count(CheckPass), s.count(CheckWarn))))
	default:
		add(st.ok.Render(fmt.Sprintf("✓ All %d checks passed", s.count(CheckPass))) + st.dim.Render(fmt.Sprintf(" (%d warning(s))", s.count(CheckWarn))))
	}
	add("")
	var body []string
	host := "\x00"
	for _, c := range s.checks {
		if c.Host != host {
			host = c.Host
			name := c.Host
			if name == "" {
				name = "all hosts"
			}
			body = append(body, st.focusLabel.Render(name))
		}
		body = append(body, strings.Split("  "+checkLine(c, w-2), "\n")...)
	}
	// Long lists scroll; while running the newest lines stay visible.
	room := max(1, h-len(head))
	if s.running {
		p.scroll = len(body) - room
	}
	p.scroll = max(0, min(p.scroll, len(body)-room))
	return strings.Join(append(head, body[p.scroll:]...), "\n")
}

func checkLine(c Check, w int) string {
	sym, style := "…", st.dim
	switch c.Status {
	case CheckPass:
		sym, style = "✓", st.ok
	case CheckWarn:
		sym, style = "!", st.warn
	case CheckFail:
		sym, style = "✗", st.err
	}
	line := style.Render(sym) + " " + pad(c.Name, 18) + st.dim.Render(truncate(c.Detail, max(10, w-22)))
	if c.Fix != "" && (c.Status == CheckFail || c.Status == CheckWarn) {
		line += "\n      " + paint(st.hint, wrapText("fix: "+c.Fix, max(20, w-8), "           "))
	}
	return line
}
