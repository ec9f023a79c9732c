package tui

import (
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/berthsh/berth/inventory"
)

// form is a list of fields with one focused.
type form struct {
	fields []*field
	focus  int
}

// formResult tells the page what a key did to the form.
type formResult int

const (
	formNone    formResult = iota
	formChanged            // a bound value changed
	formSubmit             // enter on the last field
)

func newForm(fields ...*field) *form {
	f := &form{fields: fields}
	for _, fl := range fields {
		if fl.kind == textField {
			fl.load()
		}
	}
	f.setFocus(f.firstVisible())
	return f
}

func (f *form) firstVisible() int {
	for i, fl := range f.fields {
		if fl.visible() {
			return i
		}
	}
	return 0
}

func (f *form) focused() *field {
	if f.focus < 0 || f.focus >= len(f.fields) {
		return nil
	}
	return f.fields[f.focus]
}

func (f *form) setFocus(i int) {
	for j, fl := range f.fields {
		if fl.kind != textField {
			continue
		}
		if j == i {
			fl.input.Focus()
		} else {
			fl.input.Blur()
		}
	}
	f.focus = i
}

// move shifts the focus by dir over visible fields, wrapping around.
func (f *form) move(dir int) {
	n := len(f.fields)
	for step, i := 0, f.focus; step < n; step++ {
		i = (i + dir + n) % n
		if f.fields[i].visible() {
			f.setFocus(i)
			return
		}
	}
}

func (f *form) last() bool {
	for i := f.focus + 1; i < len(f.fields); i++ {
		if f.fields[i].visible() {
			return false
		}
	}
	return true
}

// focusKey focuses the field that shows problems at path; it reports whether one does.
func (f *form) focusKey(path string) bool {
	best, bestLen := -1, -1
	for i, fl := range f.fields {
		if fl.key != "" && fl.visible() && pathWithin(path, fl.key) && len(fl.key) > bestLen {
			best, bestLen = i, len(fl.key)
		}
	}
	if best < 0 {
		return false
	}
	f.setFocus(best)
	return true
}

// pathWithin reports whether path is key or lies below it (key.x, key[3]).
func pathWithin(path, key string) bool {
	return path == key || strings.HasPrefix(path, key+".") || strings.HasPrefix(path, key+"[")
}

// update handles a key for the form.
func (f *form) update(msg tea.KeyMsg) (formResult, tea.Cmd) {
	fl := f.focused()
	if fl == nil {
		return formNone, nil
	}
	switch msg.String() {
	case "tab", "down":
		f.move(1)
		return formNone, nil
	case "shift+tab", "up":
		f.move(-1)
		return formNone, nil
	case "enter":
		if fl.kind == actionField {
			if fl.done != nil && fl.done() && f.last() {
				return formSubmit, nil
			}
			return formNone, fl.action()
		}
		if f.last() {
			return formSubmit, nil
		}
		f.move(1)
		return formNone, nil
	}
	switch fl.kind {
	case choiceField:
		switch msg.String() {
		case "left", "right", " ":
			dir := 1
			if msg.String() == "left" {
				dir = -1
			}
			i := slices.Index(fl.options, fl.get())
			if i < 0 && dir < 0 {
				i = 0 // nothing chosen yet: left wraps to the last option, right starts at the first
			}
			i = (i + dir + len(fl.options)) % len(fl.options)
			fl.apply(fl.options[i])
			return formChanged, nil
		}
	case multiField:
		switch msg.String() {
		case "left":
			fl.cursor = max(0, fl.cursor-1)
		case "right":
			fl.cursor = min(len(fl.options)-1, fl.cursor+1)
		case " ", "x":
			fl.apply(toggleItem(fl.get(), fl.options[fl.cursor]))
			return formChanged, nil
		}
	case textField:
		before := fl.input.Value()
		var cmd tea.Cmd
		fl.input, cmd = fl.input.Update(msg)
		if fl.input.Value() != before {
			fl.apply(fl.input.Value())
			return formChanged, cmd
		}
		return formNone, cmd
	}
	return formNone, nil
}

// toggleItem adds or removes item from a comma-joined list.
func toggleItem(list, item string) string {
	items := splitList(list)
	if i := slices.Index(items, item); i >= 0 {
		items = slices.Delete(items, i, i+1)
	} else {
		items = append(items, item)
	}
	return strings.Join(items, ",")
}

// splitList splits a comma- or space-separated list, dropping empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// view renders the form. problems are shown under the field they belong to.
func (f *form) view(width int, problems inventory.Problems, showProblems bool) string {
	labelW := 0
	for _, fl := range f.fields {
		if fl.visible() {
			labelW = max(labelW, lipgloss.Width(fl.label))
		}
	}
	labelW += 2
	assigned := f.assign(problems)
	var b strings.Builder
	for i, fl := range f.fields {
		if !fl.visible() {
			continue
		}
		focused := i == f.focus
		marker := "  "
		if focused {
			marker = st.focus.Render("› ")
		}
		label := fl.label + strings.Repeat(" ", labelW-lipgloss.Width(fl.label))
		if focused {
			label = st.focusLabel.Render(label)
		} else {
			label = st.label.Render(label)
		}
		valueW := max(10, width-labelW-4)
		b.WriteString(marker + label + f.valueView(fl, focused, valueW) + "\n")
		pad := strings.Repeat(" ", labelW+2)
		switch {
		case fl.localErr != "":
			b.WriteString(pad + st.err.Render("✗ "+fl.localErr) + "\n")
		case (showProblems || fl.touched) && len(assigned[i]) > 0:
			for _, p := range assigned[i] {
				b.WriteString(problemLines(p, pad, width))
			}
		case focused && fl.hint != "":
			b.WriteString(pad + paint(st.hint, wrapText(fl.hint, max(20, width-labelW-2), pad)) + "\n")
		}
	}
	return b.String()
}

func (f *form) valueView(fl *field, focused bool, width int) string {
	switch fl.kind {
	case textField:
		fl.input.Width = width
		return fl.input.View()
	case choiceField:
		cur := fl.get()
		var parts []string
		for _, o := range fl.options {
			text := o
			if s, ok := fl.shown[o]; ok {
				text = s
			}
			if o == cur {
				parts = append(parts, st.selected.Render("["+text+"]"))
			} else {
				parts = append(parts, st.option.Render(" "+text+" "))
			}
		}
		return strings.Join(parts, " ")
	case multiField:
		set := splitList(fl.get())
		var parts []string
		for j, o := range fl.options {
			box := "[ ]"
			if slices.Contains(set, o) {
				box = "[x]"
			}
			item := box + " " + o
			if focused && j == fl.cursor {
				parts = append(parts, st.selected.Render("›"+item))
			} else {
				parts = append(parts, st.option.Render(" "+item))
			}
		}
		return strings.Join(parts, " ")
	case actionField:
		if focused {
			return st.button.Render("[ " + fl.button + " ]")
		}
		return st.option.Render("[ " + fl.button + " ]")
	}
	return ""
}

// assign maps problems to the field whose key is the longest prefix of their path; problems no field takes are
// left to the page.
func (f *form) assign(problems inventory.Problems) map[int]inventory.Problems {
	out := map[int]inventory.Problems{}
	for _, p := range problems {
		if i := f.owner(p.Path); i >= 0 {
			out[i] = append(out[i], p)
		}
	}
	return out
}

func (f *form) owner(path string) int {
	best, bestLen := -1, -1
	for i, fl := range f.fields {
		if fl.key != "" && fl.visible() && pathWithin(path, fl.key) && len(fl.key) > bestLen {
			best, bestLen = i, len(fl.key)
		}
	}
	return best
}

// unassigned returns the problems under prefix that no field of the form shows.
func (f *form) unassigned(problems inventory.Problems) inventory.Problems {
	var out inventory.Problems
	for _, p := range problems {
		if f.owner(p.Path) < 0 {
			out = append(out, p)
		}
	}
	return out
}
