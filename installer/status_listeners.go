package installer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/inventory"
)

// HostListeners are the sockets one host listens on, each with the plane of its address, what each of its plane
// NICs has carried, and the state of berth's firewall there.
type HostListeners struct {
	Host      string            `json:"host"`
	Listeners []planes.Listener `json:"listeners,omitempty"`
	Traffic   []planes.Traffic  `json:"traffic,omitempty"` // byte counters per plane NIC, since it came up
	Firewall  FirewallState     `json:"firewall,omitempty"`
	Error     string            `json:"error,omitempty"` // why they could not be read
}

// FirewallState says whether a host holds berth's firewall as berth loaded it.
type FirewallState string

// States of a host's firewall.
const (
	FirewallLoaded  FirewallState = "loaded"  // the table is as berth loaded it, and loads at boot
	FirewallChanged FirewallState = "changed" // it differs from what berth loaded (flushed, edited): berth install loads it again
	FirewallAbsent  FirewallState = "absent"  // the inventory wants it and there is none: berth install loads it
	FirewallOff     FirewallState = "off"     // the inventory does not want it, and there is none
	FirewallLeft    FirewallState = "left"    // the inventory does not want it, and a table of berth's is there: berth install removes it
)

// firewallStateOf names a host's firewall state from what firewallState printed.
func firewallStateOf(f hostFirewall, enabled bool) FirewallState {
	present := f.live != "none" && f.live != "no-nft"
	switch {
	case !enabled && present:
		return FirewallLeft
	case !enabled:
		return FirewallOff
	case f.current():
		return FirewallLoaded
	case present:
		return FirewallChanged
	}
	return FirewallAbsent
}

// readListeners reads every host's listening sockets and NIC counters (nodes and registry hosts), in inventory order.
func (st *Status) readListeners(ctx context.Context, c *Cluster) {
	vips := planes.VIPs(c.Inv)
	hosts := make([]*inventory.Host, len(c.Inv.Hosts))
	for i := range c.Inv.Hosts {
		hosts[i] = &c.Inv.Hosts[i]
	}
	read := map[string]HostListeners{}
	var mu sync.Mutex
	_ = phase.ParallelEach(ctx, phase.DefaultConcurrency, hosts, func(h *inventory.Host) string { return h.Name },
		func(ctx context.Context, h *inventory.Host) error {
			hl, err := readHost(ctx, c, h, vips)
			if err != nil {
				hl.Error = err.Error()
			}
			mu.Lock()
			read[h.Name] = hl
			mu.Unlock()
			return nil
		})
	out := make([]HostListeners, len(hosts))
	for i, h := range hosts {
		out[i] = read[h.Name]
	}
	st.Listeners = out
}

// Markers between the outputs of the one command that reads a host.
const (
	countersMark = "#berth-status:counters"
	firewallMark = "#berth-status:firewall"
)

// readHost reads a host's listeners, its NICs' counters and its firewall with one command.
func readHost(ctx context.Context, c *Cluster, h *inventory.Host, vips map[string]inventory.PlaneName) (HostListeners, error) {
	hl := HostListeners{Host: h.Name}
	counters, err := planes.CountersCommand(h)
	if err != nil {
		return hl, err
	}
	e, err := c.Host(h.Name)
	if err != nil {
		return hl, err
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := e.Exec(cctx, planes.Command+"\necho '"+countersMark+"'\n"+counters+"\necho '"+firewallMark+"'\n"+firewallState)
	if err != nil {
		return hl, fmt.Errorf("read listening sockets, NIC counters and firewall: %w", err)
	}
	ss, rest, ok1 := strings.Cut(out, countersMark+"\n")
	ctr, fw, ok2 := strings.Cut(rest, firewallMark+"\n")
	if !ok1 || !ok2 {
		return hl, fmt.Errorf("host %s: the status command's output lacks its markers", h.Name)
	}
	if hl.Listeners, err = planes.Parse(ss, h, vips); err != nil {
		return hl, err
	}
	if hl.Traffic, err = planes.ParseCounters(ctr, h); err != nil {
		return hl, err
	}
	hl.Firewall = firewallStateOf(parseFirewallState(fw), c.Inv.Firewall != nil && c.Inv.Firewall.Enabled)
	return hl, nil
}
