package tui

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

var (
	keyPreflight = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "preflight"))
	keyInstall   = key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "install"))
	keyDone      = key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit"))
)

// saveState is the state of writing the inventory file; Update routes writeDoneMsg to it.
type saveState struct {
	path    string
	writing bool
	asking  bool   // the file exists: overwrite?
	err     error  // of the last attempt
	written []byte // what was written last, to tell when the inventory changed since
}

// writeDoneMsg reports a finished write.
type writeDoneMsg struct {
	path string
	data []byte
	err  error
}

// dirty reports whether the inventory differs from what was written.
func (s *saveState) dirty(m *Model) bool { return s.written == nil || !bytes.Equal(s.written, m.yaml) }

func (s *saveState) start(m *Model, overwrite bool) tea.Cmd {
	if m.opts.Files == nil {
		s.err = errors.New("this build cannot write files")
		return nil
	}
	s.writing, s.asking, s.err = true, false, nil
	path, data, files := s.path, bytes.Clone(m.yaml), m.opts.Files
	return func() tea.Msg {
		return writeDoneMsg{path: path, data: data, err: files.WriteFile(path, data, overwrite)}
	}
}

func (s *saveState) done(m *Model, msg writeDoneMsg) tea.Cmd {
	s.writing = false
	if errors.Is(msg.err, ErrExists) {
		s.asking = true
		return nil
	}
	if msg.err != nil {
		s.err = msg.err
		return nil
	}
	s.written = msg.data
	m.result.Written = msg.path
	m.inv.SetDir(filepath.Dir(absPath(msg.path)))
	return nil
}

// writePage writes the inventory: never over an existing file without asking.
type writePage struct {
	formPage
}

func newWritePage(m *Model) page {
	p := &writePage{}
	p.formPage = formPage{m: m, name: "Write"}
	p.build = func() []*field {
		path := newText("", "File", "e.g. inventory.yaml", func() string { return m.saved.path },
			func(v string) error { m.saved.path = strings.TrimSpace(v); m.saved.asking = false; return nil })
		write := newAction("", "Write", func() tea.Cmd { return p.write() })
		return []*field{path, write}
	}
	p.below = p.status
	p.onKey = p.key
	return p
}

func (p *writePage) modal() bool { return p.m.saved.asking }

func (p *writePage) keys() []key.Binding {
	s := p.m.saved
	switch {
	case s.asking:
		return []key.Binding{keyYesNo}
	case !s.dirty(p.m):
		return []key.Binding{keyPreflight, keyInstall, keyDone}
	}
	return []key.Binding{keyTab, keyWrite}
}

func (p *writePage) write() tea.Cmd {
	m := p.m
	if n := errorCount(m.problems); n > 0 {
		m.flash = fmt.Sprintf("%d error(s) left: the review page shows where to fix them", n)
		return nil
	}
	if m.saved.path == "" {
		m.flash = "name the file first"
		return nil
	}
	return m.saved.start(m, false)
}

func (p *writePage) key(msg tea.KeyMsg) (tea.Cmd, bool) {
	m, s := p.m, p.m.saved
	if s.writing {
		return nil, true
	}
	if s.asking {
		switch msg.String() {
		case "y":
			return s.start(m, true), true
		case "n", "esc":
			s.asking = false
			m.flash = "not overwritten: change the file name, or write again and answer y"
		}
		return nil, true
	}
	if !s.dirty(m) {
		switch msg.String() {
		case "enter":
			return m.next(), true
		case "i":
			return m.goTo(pageIndex[*installPage](m)), true
		case "q":
			return func() tea.Msg { return quitMsg{} }, true
		}
		return nil, true
	}
	if msg.String() == "enter" && p.f.focused() != nil && p.f.focused().kind == textField {
		return p.write(), true
	}
	return nil, false
}

func (p *writePage) status(w int) string {
	m, s := p.m, p.m.saved
	var b strings.Builder
	if n := errorCount(m.problems); n > 0 {
		b.WriteString(st.err.Render(fmt.Sprintf("%d error(s) left: esc goes back to the review, which shows where to fix each.", n)) + "\n")
	}
	if warn := p.pathWarning(); warn != "" {
		b.WriteString(paint(st.warn, wrapText(warn, w, "")) + "\n")
	}
	switch {
	case s.writing:
		b.WriteString(st.dim.Render("Writing " + s.path + "…"))
	case s.asking:
		b.WriteString(paint(st.warn, wrapText(s.path+" exists. Overwrite it? y/n", w, "")))
	case s.err != nil:
		b.WriteString(paint(st.err, wrapText("✗ "+s.err.Error(), w, "  ")))
	case !s.dirty(m):
		b.WriteString(paint(st.ok, wrapText(fmt.Sprintf("✓ Wrote %s (%d bytes); it passes berth inventory validate.", m.result.Written, len(s.written)), w, "  ")) + "\n\n")
		b.WriteString(wrapText("Next: enter runs the preflight checks on every host, i goes to the install, q quits.", w, "") + "\n")
		b.WriteString(paint(st.dim, wrapText(fmt.Sprintf("Later, by hand: berth preflight -i %s; berth install -i %s -b BUNDLE", m.result.Written, m.result.Written), w, "  ")))
	case s.written != nil:
		b.WriteString(st.warn.Render("The inventory changed since it was written: write it again."))
	}
	return b.String()
}

// pathWarning warns when relative paths in the inventory would point elsewhere from the new file's directory.
func (p *writePage) pathWarning() string {
	inv := p.m.inv
	var rel []string
	for _, f := range append(append([]string{}, inv.SSH.IdentityFiles...), inv.SSH.KnownHosts) {
		if f != "" && !filepath.IsAbs(f) && !strings.HasPrefix(f, "~/") {
			rel = append(rel, f)
		}
	}
	if len(rel) == 0 || p.m.saved.path == "" {
		return ""
	}
	if filepath.Dir(absPath(p.m.saved.path)) == inv.Dir() {
		return ""
	}
	return fmt.Sprintf("%s are relative to the inventory file: from %s they will point into %s. Make them absolute or write next to %s.",
		strings.Join(rel, ", "), p.m.saved.path, filepath.Dir(absPath(p.m.saved.path)), inv.Dir())
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
