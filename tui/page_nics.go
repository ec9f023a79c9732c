package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

var (
	keyCycle    = key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "choose discovered NIC"))
	keyType     = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "type it"))
	keyClear    = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "clear"))
	keyRediscov = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "discover again"))
)

// nicRow is one host on one plane.
type nicRow struct {
	host  int
	plane inventory.PlaneName
}

// nicsPage assigns each host's NIC on each plane, from the interfaces discovered over SSH. A NIC whose address
// lies inside the plane's CIDR is selected already; others are chosen with ←/→ or typed.
type nicsPage struct {
	m       *Model
	sel     int
	editing bool
	before  *inventory.NIC
	f       *form
	top     int // first line shown when the table is taller than the screen
}

func newNICsPage(m *Model) page { return &nicsPage{m: m} }

func (p *nicsPage) title() string { return "NICs" }

func (p *nicsPage) rows() []nicRow {
	var out []nicRow
	for i := range p.m.inv.Hosts {
		for _, pl := range p.m.inv.NetworkPlanes.Defined() {
			out = append(out, nicRow{i, pl})
		}
	}
	return out
}

func (p *nicsPage) enter() tea.Cmd {
	p.editing = false
	p.sel = max(0, min(p.sel, len(p.rows())-1))
	if autoNICs(p.m) {
		p.m.changed()
	}
	return p.m.disc.startAll(p.m, false)
}

func (p *nicsPage) modal() bool { return p.editing }

func (p *nicsPage) owns(path string) bool { return isNICPath(path) }

func (p *nicsPage) focus(path string) {
	i, _ := hostIndex(path)
	rest := strings.TrimPrefix(strings.TrimPrefix(path, fmt.Sprintf("hosts[%d].nics", i)), ".")
	plane := inventory.PlaneName(strings.Split(rest, ".")[0])
	needed := map[inventory.PlaneName]bool{}
	if i < len(p.m.inv.Hosts) {
		for _, n := range p.m.inv.PlanesFor(&p.m.inv.Hosts[i]) {
			needed[n.Plane] = true
		}
	}
	first := -1
	for j, r := range p.rows() {
		if r.host != i {
			continue
		}
		if first < 0 {
			first = j
		}
		// A path naming the plane selects it; hosts[i].nics (a NIC is missing) selects the first plane the host's
		// roles need that has none.
		if r.plane == plane || (plane == "" && needed[r.plane] && p.m.inv.Hosts[i].NICs.Get(r.plane) == nil) {
			p.sel = j
			return
		}
	}
	if first >= 0 {
		p.sel = first
	}
}

func (p *nicsPage) keys() []key.Binding {
	if p.editing {
		return []key.Binding{keyTab, keySave, keyCancel}
	}
	return []key.Binding{keyRows, keyCycle, keyType, keyClear, keyRediscov, keyNext}
}

func (p *nicsPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	rows := p.rows()
	if p.editing {
		return p.edit(km, rows[p.sel])
	}
	switch km.String() {
	case "up", "shift+tab", "k":
		p.sel = max(0, p.sel-1)
	case "down", "tab", "j":
		p.sel = min(len(rows)-1, p.sel+1)
	case "left", "right":
		if len(rows) > 0 {
			dir := 1
			if km.String() == "left" {
				dir = -1
			}
			p.cycle(rows[p.sel], dir)
		}
	case "e":
		if len(rows) > 0 {
			p.open(rows[p.sel])
		}
	case "x":
		if len(rows) > 0 {
			r := rows[p.sel]
			p.m.inv.Hosts[r.host].NICs.Set(r.plane, nil)
			p.m.changed()
		}
	case "r":
		return p.m.disc.startAll(p.m, true)
	case "enter":
		return p.m.next()
	}
	return nil
}

// cycle selects the next discovered address of the row's host.
func (p *nicsPage) cycle(r nicRow, dir int) {
	h := &p.m.inv.Hosts[r.host]
	res := p.m.disc.result(p.m, h)
	if res == nil || res.status != probeOK {
		p.m.flash = "no interfaces discovered for " + h.Name + ": press e to type the NIC"
		return
	}
	cs := choices(res.facts)
	if len(cs) == 0 {
		return
	}
	cur := h.NICs.Get(r.plane)
	i := slices.IndexFunc(cs, func(c nicChoice) bool {
		return cur != nil && c.iface == cur.Interface && c.prefix.Addr().String() == cur.Address
	})
	if i < 0 && dir < 0 {
		i = 0
	}
	i = (i + dir + len(cs)) % len(cs)
	h.NICs.Set(r.plane, &inventory.NIC{Interface: cs[i].iface, Address: cs[i].prefix.Addr().String()})
	p.m.changed()
}

func (p *nicsPage) open(r nicRow) {
	h := &p.m.inv.Hosts[r.host]
	nic := h.NICs.Get(r.plane)
	p.before = nil
	if nic != nil {
		c := *nic
		p.before = &c
	} else {
		nic = &inventory.NIC{}
		h.NICs.Set(r.plane, nic)
	}
	path := fmt.Sprintf("hosts[%d].nics.%s", r.host, r.plane)
	g, s := bindString(&nic.Interface)
	iface := newText(path+".interface", "Interface", "e.g. eth1 or bond0.200", g, s)
	g, s = bindString(&nic.Address)
	addr := newText(path+".address", "Address", "inside "+p.m.inv.NetworkPlanes.Get(r.plane).CIDR, g, s)
	p.f = newForm(iface, addr)
	p.editing = true
}

func (p *nicsPage) edit(km tea.KeyMsg, r nicRow) tea.Cmd {
	h := &p.m.inv.Hosts[r.host]
	if km.String() == "esc" {
		h.NICs.Set(r.plane, p.before)
		p.editing = false
		p.m.changed()
		return nil
	}
	res, cmd := p.f.update(km)
	switch res {
	case formChanged:
		p.f.focused().touched = true
		p.m.changed()
	case formSubmit:
		p.editing = false
	}
	return cmd
}

func (p *nicsPage) view(w, h int) string {
	var lines []string
	add := func(s string) { lines = append(lines, strings.Split(strings.TrimRight(s, "\n"), "\n")...) }
	add(paint(st.dim, wrapText("The interface each host uses on each plane, discovered over SSH. An interface whose address lies in the plane's subnet is chosen already.", w, "")))
	add("")
	rows := p.rows()
	if len(rows) == 0 {
		add(st.dim.Render("Define hosts and network planes first (esc goes back)."))
		return strings.Join(lines, "\n")
	}
	showAll := p.m.visited[p.m.cur]
	selLine := 0
	last := -1
	for j, r := range rows {
		hst := &p.m.inv.Hosts[r.host]
		res := p.m.disc.result(p.m, hst)
		if r.host != last {
			last = r.host
			status := res.summary()
			if p.m.opts.Discoverer == nil {
				status = "discovery not available: type NICs with e"
			}
			add(st.focusLabel.Render(fmt.Sprintf("%s (%s)", hst.Name, hst.Address)) + "  " + st.dim.Render(truncate(status, w/2)))
			if showAll {
				for _, pr := range p.m.problems {
					if pr.Path == fmt.Sprintf("hosts[%d].nics", r.host) {
						add(problemLines(pr, "    ", w))
					}
				}
			}
		}
		mark := "    "
		if j == p.sel {
			mark = "  " + st.focus.Render("› ")
			selLine = len(lines)
		}
		nic := hst.NICs.Get(r.plane)
		val := st.dim.Render("not set")
		if nic != nil {
			val = pad(nic.Interface, 12) + nic.Address
		}
		note := p.note(res, r.plane, nic)
		if j == p.sel && res != nil && res.status == probeOK {
			val = "‹ " + val + " ›"
		}
		add(mark + pad(string(r.plane), 12) + pad(val, 34) + note)
		if j == p.sel && p.editing {
			add(indentBlock(p.f.view(w-6, p.m.problemsUnder(fmt.Sprintf("hosts[%d].nics.%s", r.host, r.plane)), true), "      "))
			continue
		}
		for _, pr := range p.m.problemsUnder(fmt.Sprintf("hosts[%d].nics.%s", r.host, r.plane)) {
			if showAll || j == p.sel {
				add(problemLines(pr, "      ", w))
			}
		}
	}
	// Keep the selected row on screen.
	if selLine < p.top+2 {
		p.top = max(0, selLine-2)
	}
	if selLine >= p.top+h-2 {
		p.top = selLine - h + 3
	}
	if p.top > 0 && p.top < len(lines) {
		lines = lines[p.top:]
	}
	return strings.Join(lines, "\n")
}

// note explains where a NIC came from relative to what discovery saw.
func (p *nicsPage) note(res *probeResult, plane inventory.PlaneName, nic *inventory.NIC) string {
	if res == nil || res.status != probeOK {
		return ""
	}
	pfx, ok := p.m.inv.NetworkPlanes.Prefix(plane)
	if !ok {
		return ""
	}
	if nic == nil {
		if len(matching(res.facts, pfx)) > 1 {
			return st.warn.Render("several NICs in " + pfx.String() + ": choose one")
		}
		return st.err.Render("no NIC in " + pfx.String())
	}
	for _, c := range choices(res.facts) {
		if c.iface == nic.Interface && c.prefix.Addr().String() == nic.Address {
			return st.ok.Render("✓ discovered")
		}
	}
	return st.warn.Render("! not seen on the host")
}
