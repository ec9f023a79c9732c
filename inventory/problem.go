package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells errors from warnings.
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one thing wrong (or suspicious) in an inventory. Line and Column are 1-based; 0 means the position is
// unknown (an inventory built in memory, or a field that is missing).
type Problem struct {
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	Severity Severity `json:"-"`
}

// Location renders file:line:col, as much of it as is known.
func (p Problem) Location() string {
	loc := p.File
	if p.Line > 0 {
		if loc != "" {
			loc += ":"
		}
		loc += fmt.Sprintf("%d:%d", p.Line, p.Column)
	}
	return loc
}

// String renders the problem on one line, with the fix on a second line.
func (p Problem) String() string {
	var b strings.Builder
	if loc := p.Location(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString("\n    fix: ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Problems is a list of problems.
type Problems []Problem

// Errors returns only the problems of error severity.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Sort puts errors before warnings and orders each by position, then path, so output is stable, reads top to
// bottom, and starts with what must be fixed.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.Line != b.Line {
			// Problems without a position go last.
			if a.Line == 0 || b.Line == 0 {
				return b.Line == 0
			}
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Path < b.Path
	})
}

// Error is returned when an inventory has errors; it carries every problem found, warnings included.
type Error struct {
	File     string
	Problems Problems
}

func (e *Error) Error() string {
	errs := e.Problems.Errors()
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "inventory"
	}
	fmt.Fprintf(&b, "%s: %d error(s)", name, len(errs))
	if w := len(e.Problems.Warnings()); w > 0 {
		fmt.Fprintf(&b, ", %d warning(s)", w)
	}
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}
