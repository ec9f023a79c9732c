package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

var (
	keyFix    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go to the field that fixes it"))
	keyWrite  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "write the file"))
	keyScroll = key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "scroll preview"))
	keyGoFix  = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "go to the warning"))
)

// reviewPage shows the inventory as it will be written, and every problem; enter on a problem goes to the page
// and field that fixes it.
type reviewPage struct {
	m      *Model
	sel    int
	scroll int
}

func newReviewPage(m *Model) page { return &reviewPage{m: m} }

func (p *reviewPage) title() string         { return "Review" }
func (p *reviewPage) modal() bool           { return false }
func (p *reviewPage) owns(path string) bool { return false }
func (p *reviewPage) focus(path string)     {}

func (p *reviewPage) enter() tea.Cmd {
	p.sel = max(0, min(p.sel, len(p.m.problems)-1))
	p.follow()
	return nil
}

func (p *reviewPage) keys() []key.Binding {
	if errorCount(p.m.problems) > 0 {
		return []key.Binding{keyRows, keyFix, keyScroll}
	}
	if len(p.m.problems) > 0 {
		return []key.Binding{keyRows, keyWrite, keyGoFix, keyScroll}
	}
	return []key.Binding{keyWrite, keyScroll}
}

// follow scrolls the preview to the selected problem's line.
func (p *reviewPage) follow() {
	if p.sel < len(p.m.problems) {
		if l := p.m.problems[p.sel].Line; l > 0 {
			p.scroll = max(0, l-4)
		}
	}
}

func (p *reviewPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	n := len(p.m.problems)
	switch km.String() {
	case "up", "shift+tab", "k":
		p.sel = max(0, p.sel-1)
		p.follow()
	case "down", "tab", "j":
		p.sel = max(0, min(n-1, p.sel+1))
		p.follow()
	case "pgup":
		p.scroll = max(0, p.scroll-10)
	case "pgdown", " ":
		p.scroll += 10
	case "f":
		return p.fix()
	case "enter":
		if errorCount(p.m.problems) > 0 {
			return p.fix()
		}
		return p.m.next()
	}
	return nil
}

func (p *reviewPage) fix() tea.Cmd {
	if p.sel >= len(p.m.problems) {
		return nil
	}
	path := p.m.problems[p.sel].Path
	if cmd := p.m.jump(path); cmd != nil || p.m.pages[p.m.cur] != page(p) {
		return cmd
	}
	p.m.flash = fmt.Sprintf("no page edits %s: fix it in the file after writing, or in the -i file", path)
	return nil
}

func (p *reviewPage) view(w, h int) string {
	var b strings.Builder
	m := p.m
	if m.yamlErr != nil {
		return st.err.Render("cannot render the inventory: " + m.yamlErr.Error())
	}
	b.WriteString(truncate(summary(m.inv), w) + "\n")
	errs, warns := len(m.problems.Errors()), len(m.problems.Warnings())
	switch {
	case errs > 0:
		b.WriteString(st.err.Render(fmt.Sprintf("%d error(s)", errs)))
		if warns > 0 {
			b.WriteString(st.warn.Render(fmt.Sprintf(", %d warning(s)", warns)))
		}
		b.WriteString(st.dim.Render(" — enter on a problem goes to the field that fixes it") + "\n")
	case warns > 0:
		b.WriteString(st.ok.Render("Valid") + st.warn.Render(fmt.Sprintf(" with %d warning(s)", warns)) + st.dim.Render(" — enter writes the file") + "\n")
	default:
		b.WriteString(st.ok.Render("✓ Valid: passes berth inventory validate") + st.dim.Render(" — enter writes the file") + "\n")
	}
	listH := min(len(m.problems)*2, max(4, h/3))
	start := max(0, min(p.sel-listH/2+1, len(m.problems)-listH/2))
	lines := 0
	for i := start; i < len(m.problems) && lines < listH; i++ {
		pr := m.problems[i]
		mark := "  "
		if i == p.sel {
			mark = st.focus.Render("› ")
		}
		style, sym := st.err, "✗"
		if pr.Severity == inventory.SeverityWarning {
			style, sym = st.warn, "!"
		}
		where := p.pageOf(pr.Path)
		text := fmt.Sprintf("%s %s: %s", sym, pr.Path, pr.Message)
		if i != p.sel {
			b.WriteString(mark + style.Render(truncate(text, w-lenCells(where)-3)) + " " + st.dim.Render(where) + "\n")
			lines++
			continue
		}
		// The selected problem is shown whole, with its fix.
		full := wrapText(text+" "+where, w-2, "    ")
		b.WriteString(mark + paint(style, full) + "\n")
		lines += strings.Count(full, "\n") + 1
		if pr.Fix != "" {
			fix := wrapText("    fix: "+pr.Fix, w, "         ")
			b.WriteString(paint(st.hint, fix) + "\n")
			lines += strings.Count(fix, "\n") + 1
		}
	}
	b.WriteString(st.frame.Render(truncate(fmt.Sprintf("── %s as it will be written (pgup/pgdn) ", m.saved.path)+strings.Repeat("─", w), w)) + "\n")
	yaml := strings.Split(strings.TrimRight(string(m.yaml), "\n"), "\n")
	bad := map[int]inventory.Severity{}
	for _, pr := range m.problems {
		if s, ok := bad[pr.Line]; !ok || pr.Severity < s {
			bad[pr.Line] = pr.Severity
		}
	}
	used := strings.Count(b.String(), "\n")
	room := max(1, h-used)
	p.scroll = max(0, min(p.scroll, len(yaml)-room))
	for i := p.scroll; i < len(yaml) && i < p.scroll+room; i++ {
		gutter := st.dim.Render(fmt.Sprintf("%4d ", i+1))
		if s, ok := bad[i+1]; ok {
			if s == inventory.SeverityError {
				gutter = st.err.Render(fmt.Sprintf("%4d✗", i+1))
			} else {
				gutter = st.warn.Render(fmt.Sprintf("%4d!", i+1))
			}
		}
		b.WriteString(gutter + " " + truncate(yaml[i], w-7) + "\n")
	}
	return b.String()
}

// pageOf names the page that fixes a problem path.
func (p *reviewPage) pageOf(path string) string {
	for _, pg := range p.m.pages {
		if pg.owns(path) {
			return "(" + pg.title() + ")"
		}
	}
	return "(file only)"
}

// summary is one line describing the cluster.
func summary(inv *inventory.Inventory) string {
	name := inv.Metadata.Name
	if name == "" {
		name = "(unnamed)"
	}
	s := fmt.Sprintf("%s (%s): %d host(s), %d control plane(s), %d worker(s); planes %s", name,
		orDash(inv.Metadata.Environment), len(inv.Hosts), len(inv.ControlPlanes()), len(inv.Workers()),
		strings.Join(planeNames(inv.NetworkPlanes.Defined()), ", "))
	if inv.ControlPlane.VIP != "" {
		s += "; VIP " + inv.ControlPlane.VIP
	}
	return st.focusLabel.Render(s)
}
