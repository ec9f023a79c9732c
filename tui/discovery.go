package tui

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

// probeTimeout bounds one probe: connect, three short commands.
const probeTimeout = 45 * time.Second

type probeStatus int

const (
	probeRunning probeStatus = iota + 1
	probeOK
	probeFailed
)

// probeResult is the outcome of probing one SSH target.
type probeResult struct {
	status probeStatus
	facts  HostFacts
	err    error
}

// hostKey returns the host-key refusal of a failed probe, if that is why it failed.
func (r *probeResult) hostKey() *HostKeyError {
	var he *HostKeyError
	if r != nil && r.status == probeFailed && errors.As(r.err, &he) {
		return he
	}
	return nil
}

// summary is a short text for tables.
func (r *probeResult) summary() string {
	switch {
	case r == nil:
		return "not tested"
	case r.status == probeRunning:
		return "connecting…"
	case r.status == probeOK:
		s := fmt.Sprintf("✓ %s, %d NICs", r.facts.Hostname, len(r.facts.Interfaces))
		if r.facts.Sudo != "" && r.facts.Sudo != "ok" {
			s += ", sudo fails"
		}
		return s
	case r.hostKey() != nil:
		if r.hostKey().Changed {
			return "✗ host key changed"
		}
		return "✗ host key unknown"
	}
	return "✗ " + firstLine(r.err.Error())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// discovery keeps probe results by SSH target, so that changing the SSH settings or a host's address probes again
// while renaming a host does not.
type discovery struct {
	results map[string]*probeResult
}

func newDiscovery() *discovery { return &discovery{results: map[string]*probeResult{}} }

// probeMsg carries a finished probe back to Update.
type probeMsg struct {
	key   string
	facts HostFacts
	err   error
}

// targetKey identifies what a probe depends on: everything in the target except the inventory's host name.
func targetKey(t inventory.SSHTarget) string {
	b := ""
	if t.Bastion != nil {
		b = fmt.Sprintf("%+v", *t.Bastion)
	}
	return fmt.Sprintf("%s|%d|%s|%q|%t|%s|%t|%s|%q|%s|%q", t.Address, t.Port, t.User, t.IdentityFiles, t.Agent,
		t.PasswordFrom, t.Sudo, t.KnownHosts, t.HostKeys, b, t.BastionPins)
}

// targetFor returns the SSH target of a host of the inventory being edited.
func (m *Model) targetFor(h *inventory.Host) inventory.SSHTarget { return m.inv.SSHFor(h) }

// result returns the current probe result for a host (nil when never probed with the current settings).
func (d *discovery) result(m *Model, h *inventory.Host) *probeResult {
	if h.Address == "" {
		return nil
	}
	return d.results[targetKey(m.targetFor(h))]
}

// start probes a host unless a probe with the same settings is running or done (force probes again anyway).
func (d *discovery) start(m *Model, h *inventory.Host, force bool) tea.Cmd {
	if m.opts.Discoverer == nil || h.Address == "" {
		return nil
	}
	t := m.targetFor(h)
	k := targetKey(t)
	if r := d.results[k]; r != nil && (r.status == probeRunning || !force) {
		return nil
	}
	d.results[k] = &probeResult{status: probeRunning}
	disc, parent, dir := m.opts.Discoverer, m.ctx, m.inv.Dir()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, probeTimeout)
		defer cancel()
		facts, err := disc.Probe(ctx, t, dir)
		return probeMsg{key: k, facts: facts, err: err}
	}
}

// startAll probes every host not probed yet with the current settings.
func (d *discovery) startAll(m *Model, force bool) tea.Cmd {
	var cmds []tea.Cmd
	for i := range m.inv.Hosts {
		cmds = append(cmds, d.start(m, &m.inv.Hosts[i], force))
	}
	return tea.Batch(cmds...)
}

// finish records a probe and pre-selects NICs that the facts make obvious.
func (d *discovery) finish(m *Model, msg probeMsg) tea.Cmd {
	r := &probeResult{status: probeOK, facts: msg.facts, err: msg.err}
	if msg.err != nil {
		r.status = probeFailed
		m.log.Debug("probe failed", "target", msg.key, "err", msg.err)
	}
	d.results[msg.key] = r
	changed := autoNICs(m)
	for i := range m.inv.Hosts {
		if nameFromProbe(m, &m.inv.Hosts[i]) {
			changed = true
		}
	}
	if changed {
		m.changed()
	}
	return nil
}

// nameFromProbe names a host added without a name after its own hostname, when that is a valid node name.
func nameFromProbe(m *Model, h *inventory.Host) bool {
	if h.Name != "" {
		return false
	}
	r := m.disc.result(m, h)
	if r == nil || r.status != probeOK || !nodeName.MatchString(r.facts.Hostname) {
		return false
	}
	h.Name = r.facts.Hostname
	return true
}

var nodeName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// nicChoice is one address of one interface, a candidate NIC for a plane.
type nicChoice struct {
	iface     string
	prefix    netip.Prefix
	secondary bool // a secondary address of the interface (a VIP, an alias)
}

// String shows the choice as "eth1 10.20.0.11/24".
func (c nicChoice) String() string { return fmt.Sprintf("%s %s", c.iface, c.prefix) }

// choices lists every IPv4 address of every interface, in the host's order.
func choices(f HostFacts) []nicChoice {
	var out []nicChoice
	for _, i := range f.Interfaces {
		for _, a := range i.Addrs {
			out = append(out, nicChoice{iface: i.Name, prefix: a, secondary: slices.Contains(i.Secondary, a)})
		}
	}
	return out
}

// matching returns the choices whose address lies inside the plane's subnet.
func matching(f HostFacts, plane netip.Prefix) []nicChoice {
	var out []nicChoice
	for _, c := range choices(f) {
		if plane.Contains(c.prefix.Addr()) {
			out = append(out, c)
		}
	}
	return out
}

// autoNICs fills every NIC that is not set yet and that exactly one discovered address fits (inside the plane's
// CIDR; on the management plane the host's SSH address breaks ties). NICs already set are never changed. It
// reports whether it changed anything.
func autoNICs(m *Model) bool {
	changed := false
	for i := range m.inv.Hosts {
		h := &m.inv.Hosts[i]
		r := m.disc.result(m, h)
		if r == nil || r.status != probeOK {
			continue
		}
		for _, plane := range m.inv.NetworkPlanes.Defined() {
			if h.NICs.Get(plane) != nil {
				continue
			}
			pfx, ok := m.inv.NetworkPlanes.Prefix(plane)
			if !ok {
				continue
			}
			c, ok := pick(matching(r.facts, pfx), h.Address)
			if !ok {
				continue
			}
			h.NICs.Set(plane, &inventory.NIC{Interface: c.iface, Address: c.prefix.Addr().String()})
			changed = true
		}
	}
	return changed
}

// pick chooses among matching addresses: the only one, the only primary one (a control plane holding the API VIP
// has it as a secondary address beside its own), or the one the host is dialled on.
func pick(cs []nicChoice, sshAddr string) (nicChoice, bool) {
	if len(cs) == 1 {
		return cs[0], true
	}
	if primary := slices.DeleteFunc(slices.Clone(cs), func(c nicChoice) bool { return c.secondary }); len(primary) == 1 {
		return primary[0], true
	}
	for _, c := range cs {
		if c.prefix.Addr().String() == sshAddr {
			return c, true
		}
	}
	return nicChoice{}, false
}

// suggestVIP proposes a free address for the VIP on plane: the highest host address of the subnet that no host
// NIC, host address, gateway, registry VIP or discovered neighbour uses. ok is false when the plane has no valid
// CIDR or no address is free.
func suggestVIP(m *Model, plane inventory.PlaneName) (netip.Addr, bool) {
	pfx, ok := m.inv.NetworkPlanes.Prefix(plane)
	if !ok || !pfx.Addr().Is4() || pfx.Bits() > 30 {
		return netip.Addr{}, false
	}
	used := map[netip.Addr]bool{}
	mark := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			used[a] = true
		}
	}
	for i := range m.inv.Hosts {
		h := &m.inv.Hosts[i]
		mark(h.Address)
		for _, p := range inventory.AllPlanes {
			if n := h.NICs.Get(p); n != nil {
				mark(n.Address)
			}
		}
		if r := m.disc.result(m, h); r != nil && r.status == probeOK {
			for _, c := range choices(r.facts) {
				used[c.prefix.Addr()] = true
			}
			for _, a := range r.facts.Neighbors {
				used[a] = true
			}
		}
	}
	if p := m.inv.NetworkPlanes.Get(plane); p != nil {
		mark(p.Gateway)
	}
	for _, r := range m.inv.Registries {
		mark(r.VIP)
	}
	last := lastAddr(pfx)
	for a, n := last.Prev(), 0; pfx.Contains(a) && a != pfx.Addr() && n < 4096; a, n = a.Prev(), n+1 {
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// lastAddr returns the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// subnetsSeen lists the distinct subnets of the discovered addresses, with the interfaces they are on, as hints
// for the network planes page.
func subnetsSeen(m *Model) []string {
	seen := map[netip.Prefix][]string{}
	var order []netip.Prefix
	for i := range m.inv.Hosts {
		r := m.disc.result(m, &m.inv.Hosts[i])
		if r == nil || r.status != probeOK {
			continue
		}
		for _, c := range choices(r.facts) {
			p := c.prefix.Masked()
			if _, ok := seen[p]; !ok {
				order = append(order, p)
			}
			if !slices.Contains(seen[p], c.iface) {
				seen[p] = append(seen[p], c.iface)
			}
		}
	}
	var out []string
	for _, p := range order {
		out = append(out, fmt.Sprintf("%s (%s)", p, strings.Join(seen[p], ", ")))
	}
	return out
}
