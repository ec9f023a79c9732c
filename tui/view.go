package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// page is one step of the wizard.
type page interface {
	title() string
	// enter is called each time the page becomes current; it reloads the page's fields from the inventory.
	enter() tea.Cmd
	// update handles a message while the page is current.
	update(msg tea.Msg) tea.Cmd
	// view renders the page's body in width × height cells.
	view(width, height int) string
	// keys lists the page's key bindings for the help bar.
	keys() []key.Binding
	// owns reports whether problems at path are fixed on this page; focus puts the cursor on that field.
	owns(path string) bool
	focus(path string)
	// modal reports whether a dialog is open (esc closes it instead of going back).
	modal() bool
}

const sidebarWidth = 24

// View renders the whole screen: header, steps, page body, notice and help bar.
func (m *Model) View() string {
	w, h := max(m.width, 40), max(m.height, 12)
	p := m.pages[m.cur]
	header := m.header(w)
	help := m.helpBar(p.keys(), w)
	notice := ""
	if m.flash != "" {
		notice = truncate(m.flash, w-1)
	}
	bodyH := h - lipgloss.Height(header) - lipgloss.Height(help) - 2
	showSide := w >= 80
	bodyW := w - 1
	if showSide {
		bodyW = w - sidebarWidth - 3
	}
	body := clipLines(p.view(bodyW, bodyH), bodyW, bodyH)
	if showSide {
		side := clipLines(m.sidebar(), sidebarWidth, bodyH)
		body = lipgloss.JoinHorizontal(lipgloss.Top, pad("", 1), side, st.frame.Render(strings.Repeat("│\n", bodyH-1)+"│"), " ", body)
	}
	body = clipLines(body, w, bodyH)
	return strings.Join([]string{header, body, notice, help}, "\n")
}

func (m *Model) header(w int) string {
	source := "new inventory"
	if f := m.inv.File(); f != "" && m.opts.Inventory != nil {
		source = f
	}
	title := st.title.Render("berth wizard")
	sub := fmt.Sprintf(" · %s → %s · step %d/%d %s", source, m.saved.path, m.cur+1, len(m.pages), m.pages[m.cur].title())
	return truncate(title+st.subtitle.Render(sub), w) + "\n" + st.frame.Render(strings.Repeat("─", w))
}

// sidebar lists the steps with their state: done (visited, no errors), errors, current.
func (m *Model) sidebar() string {
	var b strings.Builder
	review := pageIndex[*reviewPage](m)
	for i, p := range m.pages {
		mark := "  "
		style := st.step
		if i < review && m.visited[i] {
			n := 0
			for _, pr := range m.problems.Errors() {
				if p.owns(pr.Path) {
					n++
				}
			}
			if n > 0 {
				mark = st.err.Render("✗ ")
			} else {
				mark = st.ok.Render("✓ ")
			}
			style = st.stepDone
		}
		if i == m.cur {
			mark = st.stepNow.Render("› ")
			style = st.stepNow
		}
		b.WriteString(mark + style.Render(truncate(fmt.Sprintf("%d %s", i+1, p.title()), sidebarWidth-2)) + "\n")
	}
	if n := errorCount(m.problems); n > 0 {
		fmt.Fprintf(&b, "\n%s", st.dim.Render(fmt.Sprintf("%d problem(s) left", n)))
	}
	return b.String()
}

var (
	keyQuit = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit without writing"))
	keyBack = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyTab  = key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab/shift+tab ↑/↓", "field"))
	keyNext = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next"))
)

func (m *Model) helpBar(bindings []key.Binding, w int) string {
	var parts []string
	quitShown := false
	for _, b := range bindings {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		quitShown = quitShown || h.Key == "ctrl+c"
		parts = append(parts, st.helpKey.Render(h.Key)+" "+st.help.Render(h.Desc))
	}
	if m.cur > 0 && m.canLeave() && !m.pages[m.cur].modal() {
		h := keyBack.Help()
		parts = append(parts, st.helpKey.Render(h.Key)+" "+st.help.Render(h.Desc))
	}
	if h := keyQuit.Help(); !quitShown {
		if m.result.Written != "" {
			h.Desc = "quit"
		}
		parts = append(parts, st.helpKey.Render(h.Key)+" "+st.help.Render(h.Desc))
	}
	// Wrap onto a second line rather than cutting bindings off on narrow terminals.
	var lines []string
	line := ""
	for _, p := range parts {
		if line != "" && lipgloss.Width(line)+3+lipgloss.Width(p) > w {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += st.help.Render(" · ")
		}
		line += p
	}
	lines = append(lines, line)
	return st.frame.Render(strings.Repeat("─", w)) + "\n" + strings.Join(lines, "\n")
}

// clipLines cuts s to at most height lines of at most width cells and pads it to height lines.
func clipLines(s string, width, height int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > width {
			lines[i] = ansi.Truncate(l, width, "")
		}
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
