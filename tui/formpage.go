package tui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

// formPage is a page made of one form bound to the inventory.
type formPage struct {
	m        *Model
	name     string
	intro    string
	prefixes []string           // problem paths fixed on this page
	build    func() []*field    // fields bound to the current inventory; called on every enter
	below    func(w int) string // optional text under the form
	onKey    func(msg tea.KeyMsg) (tea.Cmd, bool)
	extra    []key.Binding
	f        *form
}

func (p *formPage) title() string { return p.name }

func (p *formPage) enter() tea.Cmd {
	p.f = newForm(p.build()...)
	return nil
}

func (p *formPage) modal() bool { return false }

func (p *formPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.onKey != nil {
		if cmd, done := p.onKey(km); done {
			return cmd
		}
	}
	res, cmd := p.f.update(km)
	switch res {
	case formChanged:
		if fl := p.f.focused(); fl != nil {
			fl.touched = true
		}
		p.m.changed()
	case formSubmit:
		return tea.Batch(cmd, p.m.next())
	}
	return cmd
}

func (p *formPage) view(w, h int) string {
	var b strings.Builder
	if p.intro != "" {
		b.WriteString(paint(st.dim, wrapText(p.intro, w, "")) + "\n\n")
	}
	problems := p.m.problemsUnder(p.prefixes...)
	showAll := p.m.visited[p.m.cur]
	b.WriteString(p.f.view(w, problems, showAll))
	if showAll {
		if rest := p.f.unassigned(problems); len(rest) > 0 {
			b.WriteString("\n")
			for _, pr := range rest {
				b.WriteString(problemLines(pr, "", w))
			}
		}
	}
	if p.below != nil {
		if s := p.below(w); s != "" {
			b.WriteString("\n" + s)
		}
	}
	return b.String()
}

func (p *formPage) keys() []key.Binding { return append([]key.Binding{keyTab, keyNext}, p.extra...) }

func (p *formPage) owns(path string) bool {
	for _, pre := range p.prefixes {
		if pathWithin(path, pre) {
			return true
		}
	}
	return false
}

func (p *formPage) focus(path string) {
	if p.f != nil {
		p.f.focusKey(path)
	}
}

// Binding helpers: each returns get and set functions over one inventory field.

func bindString(s *string) (func() string, func(string) error) {
	return func() string { return *s }, func(v string) error { *s = strings.TrimSpace(v); return nil }
}

func bindInt(n *int) (func() string, func(string) error) {
	get := func() string {
		if *n == 0 {
			return ""
		}
		return strconv.Itoa(*n)
	}
	set := func(v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			*n = 0
			return nil
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return errNotNumber
		}
		*n = i
		return nil
	}
	return get, set
}

func bindList(l *[]string) (func() string, func(string) error) {
	return func() string { return strings.Join(*l, ", ") }, func(v string) error {
		*l = splitList(v)
		return nil
	}
}

func bindSecret(s *inventory.SecretRef) (func() string, func(string) error) {
	return func() string { return string(*s) }, func(v string) error {
		*s = inventory.SecretRef(strings.TrimSpace(v))
		return nil
	}
}

type fieldError string

// Error returns the message.
func (e fieldError) Error() string { return string(e) }

const errNotNumber = fieldError("write a whole number")
