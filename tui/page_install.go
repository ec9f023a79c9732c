package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// keyBundle, after a failed install, goes back to the bundle field: the bundle may have been the wrong one.
var keyBundle = key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "change the bundle"))

// installPage starts the install of the written inventory and shows each phase on each host as it runs. After a
// failed install it runs again (r) or lets the bundle be changed first (b).
type installPage struct {
	formPage
	asking bool
}

func newInstallPage(m *Model) page {
	p := &installPage{}
	p.formPage = formPage{m: m, name: "Install"}
	p.build = func() []*field {
		g, s := bindString(&m.inst.bundle)
		b := newText("", "Bundle", "e.g. berth-v1.31.4.tar", g, s)
		b.hint = "the signed offline bundle carried across the air gap"
		start := newAction("", "Start install", func() tea.Cmd { p.ask(); return nil })
		return []*field{b, start}
	}
	p.onKey = p.key
	return p
}

func (p *installPage) modal() bool { return p.asking }

func (p *installPage) keys() []key.Binding {
	s := p.m.inst
	switch {
	case p.m.opts.Installer == nil:
		return []key.Binding{keyDone}
	case p.asking:
		return []key.Binding{keyYesNo}
	case s.running:
		return []key.Binding{keyStopWork}
	case s.done && s.err != nil:
		return []key.Binding{keyRerun, keyBundle, keyDone}
	case s.done:
		return []key.Binding{keyRerun, keyDone}
	}
	return []key.Binding{keyTab, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start"))}
}

func (p *installPage) ask() {
	m := p.m
	switch {
	case m.saved.dirty(m):
		m.flash = "write the inventory first (esc goes back)"
	case m.inst.bundle == "":
		m.flash = "name the bundle first"
	default:
		p.asking = true
	}
}

func (p *installPage) key(msg tea.KeyMsg) (tea.Cmd, bool) {
	m, s := p.m, p.m.inst
	if m.opts.Installer == nil || s.running || s.done {
		switch msg.String() {
		case "q":
			if !s.running {
				return func() tea.Msg { return quitMsg{} }, true
			}
		case "r":
			if s.done {
				p.ask()
			}
		case "b":
			if s.done && s.err != nil && !p.asking {
				s.done, s.failed, s.err = false, s.err, nil
				p.f = newForm(p.build()...)
				return nil, true
			}
		}
		if !p.asking {
			return nil, true
		}
	}
	if p.asking {
		switch msg.String() {
		case "y":
			p.asking = false
			inv, err := loadWritten(m)
			if err != nil {
				m.flash = err.Error()
				return nil, true
			}
			return s.start(m, InstallRequest{Inventory: inv, InventoryPath: m.result.Written, Bundle: s.bundle}), true
		case "n", "esc":
			p.asking = false
		}
		return nil, true
	}
	if msg.String() == "enter" && p.f.focused() != nil && p.f.focused().kind == textField {
		p.ask()
		return nil, true
	}
	return nil, false
}

func (p *installPage) view(w, h int) string {
	m, s := p.m, p.m.inst
	if m.opts.Installer == nil {
		return st.warn.Render("install is not available in this build.") + "\n" +
			paint(st.dim, wrapText(fmt.Sprintf("The inventory is written; install it with: berth install -i %s -b BUNDLE", orDash(m.result.Written)), w, "")) +
			"\n\nq quits."
	}
	if !s.running && !s.done {
		out := paint(st.dim, wrapText(fmt.Sprintf("Installs Kubernetes on the %d host(s) of %s from the bundle. The run is journaled: after a failure, running it again resumes where it stopped.", len(m.inv.Hosts), orDash(m.result.Written)), w, "")) + "\n\n"
		if s.failed != nil {
			out += paint(st.err, wrapText("✗ the last install failed: "+firstLine(s.failed.Error()), w, "  ")) + "\n" +
				st.dim.Render("Change the bundle, then start again: finished phases are skipped.") + "\n\n"
		}
		out += p.f.view(w, nil, false)
		if p.asking {
			out += "\n" + paint(st.warn, wrapText(fmt.Sprintf("This changes %d host(s): it installs packages, writes configuration and starts Kubernetes. Start? y/n", len(m.inv.Hosts)), w, ""))
		}
		return out
	}
	return s.view(m, w, h) + p.askLine(w)
}

func (p *installPage) askLine(w int) string {
	if !p.asking {
		return ""
	}
	return "\n" + st.warn.Render("Run the install again (it resumes from the journal)? y/n")
}
