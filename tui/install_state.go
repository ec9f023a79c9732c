package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/internal/phase"
)

// installEventMsg carries one runner event; installDoneMsg ends the install.
type installEventMsg struct {
	run int
	ev  phase.Event
}

type installDoneMsg struct {
	run int
	err error
}

// cell is one phase on one host.
type cell struct {
	status      phase.Status // "" while running
	started     bool
	done, total int64
	err         string
	message     string
}

// phaseRow is one phase of the install as the events described it.
type phaseRow struct {
	name, title string
	started     bool
	status      phase.Status
	message     string
	duration    time.Duration
	hosts       map[string]*cell
}

// installState follows an install through the runner's events.
type installState struct {
	bundle  string
	run     int
	running bool
	done    bool
	err     error
	failed  error // the failure of the last run, while the bundle is changed for the next (page_install.go)
	phases  []*phaseRow
	logs    []string // the latest log lines
	ch      chan tea.Msg
}

func (s *installState) start(m *Model, req InstallRequest) tea.Cmd {
	s.run++
	s.running, s.done, s.err, s.failed, s.phases, s.logs = true, false, nil, nil, nil, nil
	ch := make(chan tea.Msg, 256)
	s.ch = ch
	run, inst, ctx := s.run, m.opts.Installer, m.ctx
	go func() {
		obs := phase.ObserverFunc(func(e phase.Event) {
			select {
			case ch <- installEventMsg{run: run, ev: e}:
			case <-ctx.Done():
			}
		})
		err := inst.Install(ctx, req, obs)
		select {
		case ch <- installDoneMsg{run: run, err: err}:
		case <-ctx.Done():
		}
		close(ch)
	}()
	return listen(ch)
}

func (s *installState) handle(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case installEventMsg:
		if msg.run != s.run {
			return nil
		}
		s.apply(msg.ev)
		return listen(s.ch)
	case installDoneMsg:
		if msg.run != s.run {
			return nil
		}
		s.running, s.done, s.err = false, true, msg.err
		m.result.Installed = "done"
		if msg.err != nil {
			m.result.Installed = "failed"
		}
	}
	return nil
}

// row returns the row of a phase, adding it in the order phases appear.
func (s *installState) row(e phase.Event) *phaseRow {
	for _, r := range s.phases {
		if r.name == e.Phase {
			return r
		}
	}
	r := &phaseRow{name: e.Phase, title: e.Title, hosts: map[string]*cell{}}
	if r.title == "" {
		r.title = e.Phase
	}
	s.phases = append(s.phases, r)
	return r
}

// apply folds one event into the state.
func (s *installState) apply(e phase.Event) {
	if e.Kind == phase.Log && e.Phase == "" {
		s.log(e)
		return
	}
	r := s.row(e)
	c := r.hosts[e.Host]
	if c == nil && e.Host != "" {
		c = &cell{}
		r.hosts[e.Host] = c
	}
	switch e.Kind {
	case phase.PhaseStart:
		r.started = true
	case phase.HostStart:
		c.started = true
	case phase.Progress:
		c.started = true
		c.done, c.total, c.message = e.Done, e.Total, e.Message
	case phase.HostFinish:
		c.status, c.err, c.message = e.Status, e.Err, e.Message
	case phase.PhaseFinish:
		r.status, r.message, r.duration = e.Status, e.Message, e.Duration
		if e.Err != "" && r.message == "" {
			r.message = e.Err
		}
	case phase.Log, phase.Planned:
		s.log(e)
	}
}

func (s *installState) log(e phase.Event) {
	line := e.Message
	if e.Host != "" {
		line = e.Host + ": " + line
	}
	s.logs = append(s.logs, line)
	if len(s.logs) > 50 {
		s.logs = s.logs[len(s.logs)-50:]
	}
}

// view renders the phase × host grid, the latest log lines and the outcome.
func (s *installState) view(m *Model, w, h int) string {
	var hosts []string
	for _, hst := range m.inv.Hosts {
		hosts = append(hosts, hst.Name)
	}
	for _, r := range s.phases {
		for name := range r.hosts {
			if !slices.Contains(hosts, name) {
				hosts = append(hosts, name)
			}
		}
	}
	titleW := 26
	colW := 9
	for _, name := range hosts {
		colW = max(colW, len(name)+2)
	}
	fit := max(1, (w-titleW-2)/colW)
	shown := hosts[:min(len(hosts), fit)]
	var b strings.Builder
	switch {
	case s.running:
		b.WriteString(st.dim.Render("Installing… ctrl+c stops the install and quits; the journal lets a later run resume.") + "\n\n")
	case s.err != nil:
		b.WriteString(paint(st.err, wrapText("✗ install failed: "+firstLine(s.err.Error()), w, "  ")) + "\n" + paint(st.dim, wrapText("Fix the cause, then r runs it again (b changes the bundle first): finished phases are skipped.", w, "")) + "\n\n")
	default:
		b.WriteString(st.ok.Render("✓ Installed.") + "\n\n")
	}
	head := pad("PHASE", titleW)
	for _, name := range shown {
		head += pad(truncate(name, colW-1), colW)
	}
	if len(shown) < len(hosts) {
		head += fmt.Sprintf("+%d", len(hosts)-len(shown))
	}
	b.WriteString(st.dim.Render(head) + "\n")
	var failures []string
	for _, r := range s.phases {
		line := phaseMark(r) + " " + pad(truncate(r.title, titleW-3), titleW-2)
		for _, name := range shown {
			line += pad(cellText(r.hosts[name]), colW)
		}
		if r.status == phase.StatusSkipped && r.message != "" {
			line += st.dim.Render(truncate(r.message, max(0, w-lenCells(line)-1)))
		}
		b.WriteString(line + "\n")
		for _, name := range hosts {
			if c := r.hosts[name]; c != nil && c.status == phase.StatusFailed {
				failures = append(failures, fmt.Sprintf("%s on %s: %s", r.title, name, c.err))
			}
		}
	}
	for _, f := range failures {
		b.WriteString(paint(st.err, wrapText("✗ "+f, w, "  ")) + "\n")
	}
	used := strings.Count(b.String(), "\n")
	if room := h - used - 2; room > 0 && len(s.logs) > 0 {
		b.WriteString("\n")
		logs := s.logs[max(0, len(s.logs)-room):]
		for _, l := range logs {
			b.WriteString(st.dim.Render(truncate(l, w)) + "\n")
		}
	}
	return b.String()
}

func phaseMark(r *phaseRow) string {
	switch r.status {
	case phase.StatusOK, phase.StatusPlanned:
		return st.ok.Render("✓")
	case phase.StatusFailed:
		return st.err.Render("✗")
	case phase.StatusSkipped:
		return st.dim.Render("-")
	}
	if r.started {
		return st.focus.Render("›")
	}
	return " "
}

func cellText(c *cell) string {
	switch {
	case c == nil:
		return ""
	case c.status == phase.StatusOK || c.status == phase.StatusPlanned:
		return st.ok.Render("✓")
	case c.status == phase.StatusFailed:
		return st.err.Render("✗")
	case c.status == phase.StatusSkipped:
		return st.dim.Render("-")
	case c.total > 0:
		return fmt.Sprintf("%d%%", c.done*100/c.total)
	case c.started:
		return "…"
	}
	return ""
}
