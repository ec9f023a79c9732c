package tui

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// fieldKind says how a field is edited.
type fieldKind int

const (
	textField   fieldKind = iota // free text
	choiceField                  // one of options, changed with ←/→
	multiField                   // any of options (comma-joined value), cursor with ←/→, toggled with space
	actionField                  // a button: enter runs it
)

// field is one line of a form, bound to the inventory through get and set. key is the inventory path it edits
// (metadata.name, hosts[2].address): validation problems with that path are shown under it.
type field struct {
	key     string
	label   string
	hint    string // shown under the field while it has the focus
	kind    fieldKind
	options []string          // choice and multi
	shown   map[string]string // choice: how an option is displayed ("" is often "default: ...")
	get     func() string
	set     func(string) error // a parse error is shown on the field and nothing is set
	action  func() tea.Cmd
	button  string      // action: the button's text
	done    func() bool // action: true once the action did its work; enter on the last field then goes on
	hidden  func() bool

	input    textinput.Model
	cursor   int    // multi: option under the cursor
	localErr string // parse error of the last edit
	touched  bool   // edited since the page was entered: its problems show even on a first visit
}

func newText(key, label, placeholder string, get func() string, set func(string) error) *field {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = placeholder
	in.Cursor.SetMode(cursor.CursorStatic)
	return &field{key: key, label: label, kind: textField, get: get, set: set, input: in}
}

func newChoice(key, label string, options []string, get func() string, set func(string) error) *field {
	return &field{key: key, label: label, kind: choiceField, options: options, get: get, set: set}
}

func newMulti(key, label string, options []string, get func() string, set func(string) error) *field {
	return &field{key: key, label: label, kind: multiField, options: options, get: get, set: set}
}

func newAction(label, button string, action func() tea.Cmd) *field {
	return &field{label: label, button: button, kind: actionField, action: action}
}

func (f *field) visible() bool { return f.hidden == nil || !f.hidden() }

// load copies the bound value into the editor.
func (f *field) load() {
	f.localErr = ""
	if f.kind == textField {
		f.input.SetValue(f.get())
		f.input.CursorEnd()
	}
}

func (f *field) apply(v string) {
	if err := f.set(v); err != nil {
		f.localErr = err.Error()
		return
	}
	f.localErr = ""
}
