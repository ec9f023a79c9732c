package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/berthsh/berth/inventory"
)

// styles holds every lipgloss style of the wizard. Colours are ANSI basics so that they read on any terminal the
// data centre has; with the Ascii profile (tests, dumb terminals) only the text remains.
type styles struct {
	title, subtitle, label, focusLabel, focus, hint, err, warn, ok, selected, option, button, step, stepNow,
	stepDone, help, helpKey, frame, dim lipgloss.Style
}

// st is read-only after initialisation.
var st = newStyles()

func newStyles() styles {
	c := func(s string) lipgloss.Color { return lipgloss.Color(s) }
	return styles{
		title:      lipgloss.NewStyle().Bold(true).Foreground(c("6")),
		subtitle:   lipgloss.NewStyle().Faint(true),
		label:      lipgloss.NewStyle(),
		focusLabel: lipgloss.NewStyle().Bold(true),
		focus:      lipgloss.NewStyle().Foreground(c("6")).Bold(true),
		hint:       lipgloss.NewStyle().Faint(true),
		err:        lipgloss.NewStyle().Foreground(c("1")),
		warn:       lipgloss.NewStyle().Foreground(c("3")),
		ok:         lipgloss.NewStyle().Foreground(c("2")),
		selected:   lipgloss.NewStyle().Bold(true).Foreground(c("6")),
		option:     lipgloss.NewStyle().Faint(true),
		button:     lipgloss.NewStyle().Bold(true).Foreground(c("6")),
		step:       lipgloss.NewStyle().Faint(true),
		stepNow:    lipgloss.NewStyle().Bold(true).Foreground(c("6")),
		stepDone:   lipgloss.NewStyle(),
		help:       lipgloss.NewStyle().Faint(true),
		helpKey:    lipgloss.NewStyle().Bold(true),
		frame:      lipgloss.NewStyle().Faint(true),
		dim:        lipgloss.NewStyle().Faint(true),
	}
}

// problemLines renders a problem under a field: the message, then the fix.
func problemLines(p inventory.Problem, pad string, width int) string {
	style, mark := st.err, "✗ "
	if p.Severity == inventory.SeverityWarning {
		style, mark = st.warn, "! "
	}
	w := max(20, width-len(pad))
	s := pad + paint(style, wrapText(mark+p.Message, w, pad+"  ")) + "\n"
	if p.Fix != "" {
		s += pad + paint(st.hint, wrapText("  fix: "+p.Fix, w, pad+"       ")) + "\n"
	}
	return s
}

// wrapText wraps s at width, indenting continuation lines with indent.
func wrapText(s string, width int, indent string) string {
	if width <= 0 || len(s) <= width {
		return s
	}
	var lines []string
	var line strings.Builder
	lead := s[:len(s)-len(strings.TrimLeft(s, " "))] // the first line keeps its indentation
	line.WriteString(lead)
	for _, word := range strings.Fields(s) {
		if line.Len() > len(lead) && line.Len()+1+len(word) > width {
			lines = append(lines, line.String())
			line.Reset()
			lead = ""
		}
		if line.Len() > len(lead) {
			line.WriteByte(' ')
		}
		line.WriteString(word)
	}
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return strings.Join(lines, "\n"+indent)
}

// truncate cuts s (which may hold ANSI styles) to width display cells.
func truncate(s string, width int) string { return ansi.Truncate(s, max(width, 0), "…") }

// pad fills s with spaces to width display cells.
func pad(s string, width int) string {
	if w := lipgloss.Width(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}

// paint styles each line of text on its own, so that indentation survives (lipgloss aligns multi-line blocks).
func paint(style lipgloss.Style, text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return strings.Join(lines, "\n")
}
