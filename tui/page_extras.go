package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

var keySkip = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next (nothing here is required)"))

// extrasPage lists the registries and the storage back ends. Everything on it is optional.
type extrasPage struct {
	m       *Model
	sel     int // registries first, then the storage row
	editing int // -1 closed, else the row in the editor
	isNew   bool
	backup  any // what the row held when the editor opened
	f       *form
	confirm bool
}

func newExtrasPage(m *Model) page { return &extrasPage{m: m, editing: -1} }

func (p *extrasPage) title() string { return "Registries & storage" }

func (p *extrasPage) enter() tea.Cmd {
	p.editing, p.confirm = -1, false
	p.sel = max(0, min(p.sel, p.storageRow()))
	return nil
}

func (p *extrasPage) storageRow() int { return len(p.m.inv.Registries) }

func (p *extrasPage) modal() bool { return p.editing >= 0 || p.confirm }

func (p *extrasPage) owns(path string) bool {
	return pathWithin(path, "registries") || pathWithin(path, "storage")
}

func (p *extrasPage) focus(path string) {
	if i, ok := listIndex(path, "registries"); ok && i < len(p.m.inv.Registries) {
		p.sel = i
		p.open(i)
		p.f.focusKey(path)
		return
	}
	if pathWithin(path, "storage") {
		p.sel = p.storageRow()
		p.open(p.sel)
		p.f.focusKey(path)
	}
}

func (p *extrasPage) keys() []key.Binding {
	switch {
	case p.confirm:
		return []key.Binding{keyYesNo}
	case p.editing >= 0:
		return []key.Binding{keyTab, keySave, keyCancel}
	}
	return []key.Binding{keyRows, key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add registry")), keyEdit, keyDelete, keySkip}
}

func (p *extrasPage) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.confirm {
		if km.String() == "y" {
			p.remove()
		}
		if km.String() == "y" || km.String() == "n" || km.String() == "esc" {
			p.confirm = false
		}
		return nil
	}
	if p.editing >= 0 {
		return p.edit(km)
	}
	switch km.String() {
	case "up", "shift+tab", "k":
		p.sel = max(0, p.sel-1)
	case "down", "tab", "j":
		p.sel = min(p.storageRow(), p.sel+1)
	case "a", "+":
		r := inventory.Registry{Role: inventory.RegistrySystem}
		for _, h := range p.m.inv.HostsWith(inventory.RoleRegistry) {
			r.Hosts = append(r.Hosts, h.Name)
		}
		if len(p.m.inv.Registries) == 0 {
			r.Name = "system"
		}
		p.m.inv.Registries = append(p.m.inv.Registries, r)
		p.sel = len(p.m.inv.Registries) - 1
		p.open(p.sel)
		p.isNew = true
		p.m.changed()
	case "e", "right":
		p.open(p.sel)
	case "d", "delete", "backspace":
		if p.sel < p.storageRow() || p.m.inv.Storage != nil {
			p.confirm = true
		}
	case "enter":
		return p.m.next()
	}
	return nil
}

func (p *extrasPage) remove() {
	if p.sel < p.storageRow() {
		p.m.inv.Registries = slices.Delete(p.m.inv.Registries, p.sel, p.sel+1)
		if len(p.m.inv.Registries) == 0 {
			p.m.inv.Registries = nil
		}
	} else if st := p.m.inv.Storage; st != nil {
		st.Ceph = nil
		if st.Trident == nil {
			p.m.inv.Storage = nil
		}
	}
	p.m.changed()
}

func (p *extrasPage) open(row int) {
	p.editing, p.isNew = row, false
	if row < p.storageRow() {
		p.backup = cloneRegistry(p.m.inv.Registries[row])
		p.f = newForm(p.registryFields(row)...)
		return
	}
	if s := p.m.inv.Storage; s != nil {
		c := *s
		if s.Ceph != nil {
			cc := *s.Ceph
			c.Ceph = &cc
		}
		p.backup = &c
	} else {
		p.backup = (*inventory.Storage)(nil)
	}
	p.f = newForm(p.storageFields()...)
}

func cloneRegistry(r inventory.Registry) inventory.Registry {
	r.Hosts = slices.Clone(r.Hosts)
	r.Mirrors = slices.Clone(r.Mirrors)
	return r
}

func (p *extrasPage) registryFields(i int) []*field {
	r := &p.m.inv.Registries[i]
	path := fmt.Sprintf("registries[%d]", i)
	g, s := bindString(&r.Name)
	name := newText(path+".name", "Name", "e.g. system", g, s)
	g, s = bindString(&r.Role)
	role := newChoice(path+".role", "Role", []string{inventory.RegistrySystem, inventory.RegistryUser}, g, s)
	role.hint = "system serves platform images, user serves application images"
	g, s = bindList(&r.Hosts)
	hosts := newText(path+".hosts", "Hosts", "e.g. reg1, reg2 (hosts with the registry role)", g, s)
	g, s = bindString((*string)(&r.Plane))
	plane := newChoice(path+".plane", "Plane", append([]string{""}, planeNames(p.m.inv.NetworkPlanes.Defined())...), g, s)
	plane.shown = map[string]string{"": fmt.Sprintf("default (%s)", p.m.inv.PlaneFor(inventory.TrafficImages))}
	g, s = bindInt(&r.Port)
	port := newText(path+".port", "Port", "default: 5000", g, s)
	g, s = bindString(&r.VIP)
	vip := newText(path+".vip", "VIP", "optional", g, s)
	g, s = bindList(&r.Mirrors)
	mirrors := newText(path+".mirrors", "Mirrors", "optional, e.g. registry.k8s.io, docker.io", g, s)
	return []*field{name, role, hosts, plane, port, vip, mirrors}
}

func (p *extrasPage) storageFields() []*field {
	inv := p.m.inv
	storage := inv.Storage
	if storage == nil {
		storage = &inventory.Storage{}
	}
	ceph := storage.Ceph
	if ceph == nil {
		ceph = &inventory.Ceph{}
	}
	// attach puts the storage and Ceph sections into the inventory while they hold anything, and takes them out
	// again when everything is cleared.
	attach := func() {
		if ceph.ClusterID == "" && len(ceph.Monitors) == 0 && ceph.Pool == "" && ceph.User == "" &&
			ceph.KeyFrom == "" && ceph.StorageClass == "" {
			storage.Ceph = nil
		} else {
			storage.Ceph = ceph
		}
		if storage.DefaultClass == "" && storage.Ceph == nil && storage.Trident == nil {
			inv.Storage = nil
		} else {
			inv.Storage = storage
		}
	}
	wrap := func(get func() string, set func(string) error) (func() string, func(string) error) {
		return get, func(v string) error {
			err := set(v)
			attach()
			return err
		}
	}
	g, s := wrap(bindString(&storage.DefaultClass))
	def := newText("storage.defaultClass", "Default class", "optional, e.g. ceph-rbd", g, s)
	g, s = wrap(bindString(&ceph.ClusterID))
	id := newText("storage.ceph.clusterID", "Ceph fsid", "empty: no Ceph", g, s)
	g, s = wrap(bindList(&ceph.Monitors))
	mons := newText("storage.ceph.monitors", "Ceph monitors", "e.g. 10.30.0.41:6789, 10.30.0.42:6789", g, s)
	g, s = wrap(bindString(&ceph.Pool))
	pool := newText("storage.ceph.pool", "RBD pool", "e.g. kubernetes", g, s)
	g, s = wrap(bindSecret(&ceph.KeyFrom))
	keyFrom := newText("storage.ceph.keyFrom", "Ceph key from", "e.g. env:BERTH_CEPH_KEY or file:PATH", g, s)
	keyFrom.hint = "where berth reads the client key; never the key itself"
	return []*field{def, id, mons, pool, keyFrom}
}

func (p *extrasPage) edit(km tea.KeyMsg) tea.Cmd {
	if km.String() == "esc" {
		if p.editing < p.storageRow() {
			if p.isNew {
				p.m.inv.Registries = slices.Delete(p.m.inv.Registries, p.editing, p.editing+1)
				if len(p.m.inv.Registries) == 0 {
					p.m.inv.Registries = nil
				}
				p.sel = max(0, p.sel-1)
			} else {
				p.m.inv.Registries[p.editing] = p.backup.(inventory.Registry)
			}
		} else {
			p.m.inv.Storage = p.backup.(*inventory.Storage)
		}
		p.editing = -1
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
	}
	return cmd
}

func (p *extrasPage) view(w, h int) string {
	var b strings.Builder
	inv := p.m.inv
	b.WriteString(paint(st.dim, wrapText("Optional: image registries berth runs inside the cluster's network, and persistent storage. Press enter to skip.", w, "")) + "\n\n")
	showAll := p.m.visited[p.m.cur]
	b.WriteString(st.focusLabel.Render("Registries") + "\n")
	if len(inv.Registries) == 0 {
		b.WriteString(st.dim.Render("  none (a adds one)") + "\n")
	}
	for i, r := range inv.Registries {
		b.WriteString(p.mark(i) + fmt.Sprintf("%-10s %-7s hosts %-20s port %-5s vip %s", r.Name, r.Role,
			strings.Join(r.Hosts, ","), intText(r.Port), orDash(r.VIP)) + "\n")
		b.WriteString(p.detail(i, fmt.Sprintf("registries[%d]", i), w, showAll))
	}
	b.WriteString("\n" + st.focusLabel.Render("Storage") + "\n")
	row := p.storageRow()
	summary := "none"
	if s := inv.Storage; s != nil {
		var parts []string
		if s.DefaultClass != "" {
			parts = append(parts, "default class "+s.DefaultClass)
		}
		if s.Ceph != nil {
			parts = append(parts, fmt.Sprintf("Ceph %s pool %s", orDash(s.Ceph.ClusterID), orDash(s.Ceph.Pool)))
		}
		if s.Trident != nil {
			parts = append(parts, fmt.Sprintf("Trident with %d back end(s), kept as written (edit the file to change)", len(s.Trident.Backends)))
		}
		summary = strings.Join(parts, "; ")
	}
	b.WriteString(p.mark(row) + truncate(summary, w-4) + "\n")
	b.WriteString(p.detail(row, "storage", w, showAll))
	if p.confirm {
		what := "the Ceph settings"
		if p.sel < row {
			what = "registry " + inv.Registries[p.sel].Name
		}
		b.WriteString("\n" + st.warn.Render("Remove "+what+"? y/n") + "\n")
	}
	return b.String()
}

func (p *extrasPage) mark(row int) string {
	if row == p.sel {
		return st.focus.Render("› ")
	}
	return "  "
}

// detail renders the editor under the row being edited, or the row's problems.
func (p *extrasPage) detail(row int, prefix string, w int, showAll bool) string {
	if row == p.editing {
		return "\n" + indentBlock(p.f.view(w-4, p.m.problemsUnder(prefix), true), "    ") + "\n\n"
	}
	var b strings.Builder
	if showAll || row == p.sel {
		for _, pr := range p.m.problemsUnder(prefix) {
			b.WriteString(problemLines(pr, "    ", w))
		}
	}
	return b.String()
}

func intText(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
