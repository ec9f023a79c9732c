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
	keyRows   = key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select"))
	keyAdd    = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add"))
	keyEdit   = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit"))
	keyDelete = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "remove"))
	keyTest   = key.NewBinding(key.WithKeys("t"), key.WithHelp("t/T", "test one/all"))
	keyPinRow = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pin key"))
	keySave   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next field, save on the last"))
	keyCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
)

// editableRoles are the roles the editor offers; etcd is implied by control-plane and only shown when a file has it.
var editableRoles = []string{string(inventory.RoleControlPlane), string(inventory.RoleWorker),
	string(inventory.RoleRegistry), string(inventory.RoleStorage)}

// hostsPage lists the hosts; a host is added or edited in a small form.
type hostsPage struct {
	m       *Model
	sel     int
	editing int             // index of the host in the editor, -1 when closed
	before  *inventory.Host // the host as it was when the editor opened (nil: it is new)
	f       *form
	confirm string // "delete" or "pin" while asking
}

func newHostsPage(m *Model) page { return &hostsPage{m: m, editing: -1} }

func (p *hostsPage) title() string { return "Hosts" }

func (p *hostsPage) enter() tea.Cmd {
	p.editing, p.confirm = -1, ""
	p.clamp()
	// Probe hosts in the background as soon as the page shows them: results appear in the table.
	return p.m.disc.startAll(p.m, false)
}

func (p *hostsPage) clamp() { p.sel = max(0, min(p.sel, len(p.m.inv.Hosts)-1)) }

func (p *hostsPage) modal() bool { return p.editing >= 0 || p.confirm != "" }

func (p *hostsPage) owns(path string) bool {
	if path == "hosts" {
		return true
	}
	_, ok := hostIndex(path)
	return ok && !isNICPath(path)
}

func (p *hostsPage) focus(path string) {
	if i, ok := hostIndex(path); ok && i < len(p.m.inv.Hosts) {
		p.sel = i
		p.open(i, false)
		p.f.focusKey(path)
	}
}

func (p *hostsPage) keys() []key.Binding {
	switch {
	case p.confirm != "":
		return []key.Binding{keyYesNo}
	case p.editing >= 0:
		return []key.Binding{keyTab, keySave, keyCancel}
	}
	return []key.Binding{keyRows, keyAdd, keyEdit, keyDelete, keyTest, keyPinRow, keyNext}
}

// open puts host i in the editor.
func (p *hostsPage) open(i int, isNew bool) {
	p.editing = i
	p.before = nil
	if !isNew {
		h := p.m.inv.Hosts[i]
		p.before = &h
		p.before.Roles = slices.Clone(h.Roles)
	}
	h := &p.m.inv.Hosts[i]
	g, s := bindString(&h.Name)
	name := newText(fmt.Sprintf("hosts[%d].name", i), "Name", "empty: the host's own hostname", g, s)
	name.hint = "becomes the Kubernetes node name"
	g, s = bindString(&h.Address)
	addr := newText(fmt.Sprintf("hosts[%d].address", i), "Address", "e.g. 10.10.0.11", g, s)
	addr.hint = "address berth dials over SSH, normally the management NIC's"
	options := editableRoles
	if slices.Contains(h.Roles, inventory.RoleEtcd) {
		options = append(slices.Clone(options), string(inventory.RoleEtcd))
	}
	roles := newMulti(fmt.Sprintf("hosts[%d].roles", i), "Roles", options,
		func() string { return joinRoles(h.Roles) },
		func(v string) error { h.Roles = orderRoles(h.Roles, splitList(v)); return nil })
	roles.hint = "←/→ move, space toggles; control planes run stacked etcd"
	p.f = newForm(name, addr, roles)
	p.f.focusKey(fmt.Sprintf("hosts[%d].name", i))
	if isNew {
		p.f.focusKey(fmt.Sprintf("hosts[%d].address", i))
	}
}

func joinRoles(rs []inventory.Role) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r))
	}
	return strings.Join(s, ",")
}

// orderRoles keeps the roles already listed in their order and appends new ones.
func orderRoles(old []inventory.Role, want []string) []inventory.Role {
	var out []inventory.Role
	for _, r := range old {
		if slices.Contains(want, string(r)) {
			out = append(out, r)
		}
	}
	for _, w := range want {
		if !slices.Contains(out, inventory.Role(w)) {
			out = append(out, inventory.Role(w))
		}
	}
	return out
}

func (p *hostsPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.confirm != "" {
		return p.answer(km.String())
	}
	if p.editing >= 0 {
		return p.edit(km)
	}
	hosts := p.m.inv.Hosts
	switch km.String() {
	case "up", "shift+tab", "k":
		p.sel = max(0, p.sel-1)
	case "down", "tab", "j":
		p.sel = min(len(hosts)-1, p.sel+1)
	case "a", "+":
		h := inventory.Host{Roles: []inventory.Role{inventory.RoleWorker}}
		if len(p.m.inv.ControlPlanes()) == 0 {
			h.Roles = []inventory.Role{inventory.RoleControlPlane}
		}
		p.m.inv.Hosts = append(p.m.inv.Hosts, h)
		p.sel = len(p.m.inv.Hosts) - 1
		p.open(p.sel, true)
		p.m.changed()
	case "e", "right":
		if len(hosts) > 0 {
			p.open(p.sel, false)
		}
	case "d", "delete", "backspace":
		if len(hosts) > 0 {
			p.confirm = "delete"
		}
	case "t":
		if len(hosts) > 0 {
			return p.m.disc.start(p.m, &p.m.inv.Hosts[p.sel], true)
		}
	case "T":
		return p.m.disc.startAll(p.m, true)
	case "p":
		if len(hosts) > 0 {
			if he := p.m.disc.result(p.m, &hosts[p.sel]).hostKey(); he != nil && !he.Changed {
				p.confirm = "pin"
			}
		}
	case "enter":
		return p.m.next()
	}
	return nil
}

func (p *hostsPage) answer(k string) tea.Cmd {
	what := p.confirm
	if k != "y" && k != "n" && k != "esc" {
		return nil
	}
	p.confirm = ""
	if k != "y" {
		return nil
	}
	switch what {
	case "delete":
		p.m.inv.Hosts = slices.Delete(p.m.inv.Hosts, p.sel, p.sel+1)
		p.clamp()
		p.m.changed()
	case "pin":
		h := &p.m.inv.Hosts[p.sel]
		if he := p.m.disc.result(p.m, h).hostKey(); he != nil {
			if h.SSH == nil {
				h.SSH = &inventory.HostSSH{}
			}
			h.SSH.HostKeys = append(h.SSH.HostKeys, he.Fingerprint)
			p.m.changed()
			return p.m.disc.start(p.m, h, true)
		}
	}
	return nil
}

func (p *hostsPage) edit(km tea.KeyMsg) tea.Cmd {
	i := p.editing
	if km.String() == "esc" {
		if p.before == nil {
			p.m.inv.Hosts = slices.Delete(p.m.inv.Hosts, i, i+1)
		} else {
			p.m.inv.Hosts[i] = *p.before
		}
		p.editing = -1
		p.clamp()
		p.m.changed()
		return nil
	}
	res, cmd := p.f.update(km)
	switch res {
	case formChanged:
		p.f.focused().touched = true
		p.m.changed()
	case formSubmit:
		p.editing = -1
		h := &p.m.inv.Hosts[i]
		if nameFromProbe(p.m, h) || autoNICs(p.m) {
			p.m.changed()
		}
		return tea.Batch(cmd, p.m.disc.start(p.m, h, false))
	}
	return cmd
}

func (p *hostsPage) view(w, h int) string {
	var b strings.Builder
	hosts := p.m.inv.Hosts
	b.WriteString(paint(st.dim, wrapText("Every machine of the cluster. Each host is tested over SSH as soon as it is saved; its hostname and NICs are discovered for the next pages.", w, "")) + "\n\n")
	if len(hosts) == 0 {
		b.WriteString(st.dim.Render("No hosts yet: press a to add one.") + "\n")
	}
	nameW, addrW, rolesW := 10, 15, 20
	for _, h := range hosts {
		nameW = max(nameW, len(h.Name))
		addrW = max(addrW, len(h.Address))
		rolesW = max(rolesW, len(joinRoles(h.Roles)))
	}
	if len(hosts) > 0 {
		b.WriteString(st.dim.Render("  "+pad("NAME", nameW+2)+pad("ADDRESS", addrW+2)+pad("ROLES", rolesW+2)+"SSH") + "\n")
	}
	showAll := p.m.visited[p.m.cur]
	for i := range hosts {
		hst := &hosts[i]
		mark := "  "
		if i == p.sel {
			mark = st.focus.Render("› ")
		}
		conn := p.m.disc.result(p.m, hst).summary()
		if p.m.opts.Discoverer == nil {
			conn = "-"
		}
		connStyle := st.dim
		if strings.HasPrefix(conn, "✓") {
			connStyle = st.ok
		} else if strings.HasPrefix(conn, "✗") {
			connStyle = st.err
		}
		name := hst.Name
		if name == "" {
			name = "(unnamed)"
		}
		row := pad(name, nameW+2) + pad(hst.Address, addrW+2) + pad(joinRoles(hst.Roles), rolesW+2)
		b.WriteString(mark + row + connStyle.Render(truncate(conn, max(10, w-lenCells(row)-3))) + "\n")
		if i == p.editing {
			b.WriteString("\n" + indentBlock(p.f.view(w-4, p.m.problemsUnder(fmt.Sprintf("hosts[%d]", i)), showAll), "    ") + "\n")
			continue
		}
		if showAll || i == p.sel {
			for _, pr := range p.m.problemsUnder(fmt.Sprintf("hosts[%d]", i)) {
				if !isNICPath(pr.Path) && (showAll || pr.Severity == inventory.SeverityError) {
					b.WriteString(problemLines(pr, "    ", w))
				}
			}
		}
	}
	if showAll {
		for _, pr := range p.m.problems {
			if pr.Path == "hosts" {
				b.WriteString("\n" + problemLines(pr, "", w))
			}
		}
	}
	switch p.confirm {
	case "delete":
		b.WriteString("\n" + st.warn.Render(fmt.Sprintf("Remove host %s? y/n", hosts[p.sel].Name)) + "\n")
	case "pin":
		b.WriteString("\n" + paint(st.warn, wrapText(fmt.Sprintf("Pin this key for %s? Only if it matches `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console. y/n", hosts[p.sel].Name), w, "")) + "\n")
	}
	if len(hosts) > 0 && p.editing < 0 {
		r := p.m.disc.result(p.m, &hosts[p.sel])
		if r != nil && r.status == probeFailed {
			b.WriteString("\n" + probeDetail(r, hosts[p.sel].Address, p.confirm == "pin", w))
		}
	}
	return b.String()
}

func lenCells(s string) int { return len([]rune(s)) }

func indentBlock(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
