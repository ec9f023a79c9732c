package planes

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// Traffic is what one NIC of a host has carried since it came up: the kernel's byte counters of the plane's
// interface.
type Traffic struct {
	Plane     inventory.PlaneName `json:"plane"`
	Interface string              `json:"interface"`
	RxBytes   int64               `json:"rxBytes"`
	TxBytes   int64               `json:"txBytes"`
}

// ifaceName is what an interface name may be (the kernel allows 15 bytes); anything else is not put in a command.
var ifaceName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,15}$`)

// CountersCommand is the command that prints, for each plane NIC of h, "plane interface rx_bytes tx_bytes".
func CountersCommand(h *inventory.Host) (string, error) {
	var b strings.Builder
	for _, p := range inventory.AllPlanes {
		nic := h.NICs.Get(p)
		if nic == nil {
			continue
		}
		if !ifaceName.MatchString(nic.Interface) {
			return "", fmt.Errorf("%s: the %s NIC's interface name %q is not one the kernel gives", h.Name, p, nic.Interface)
		}
		fmt.Fprintf(&b, "echo %s %s $(cat /sys/class/net/%s/statistics/rx_bytes) $(cat /sys/class/net/%s/statistics/tx_bytes); ",
			p, nic.Interface, nic.Interface, nic.Interface)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s has no NIC on any plane", h.Name)
	}
	return b.String(), nil
}

// ParseCounters reads CountersCommand's output for h: one Traffic per plane NIC, in plane order. A plane of h
// missing from out, a line of a plane or interface h does not have, or a counter that is not a number is an error.
func ParseCounters(out string, h *inventory.Host) ([]Traffic, error) {
	got := map[inventory.PlaneName]Traffic{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1024), 4096)
	for n := 0; sc.Scan(); n++ {
		if n >= 2*len(inventory.AllPlanes) {
			return nil, fmt.Errorf("%s: more counter lines than planes", h.Name)
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("%s: counters %q: want plane, interface, rx and tx bytes (is the interface there?)", h.Name, sc.Text())
		}
		p := inventory.PlaneName(f[0])
		nic := h.NICs.Get(p)
		if nic == nil || nic.Interface != f[1] {
			return nil, fmt.Errorf("%s: counters of %s on %s, which the inventory does not give it", h.Name, f[1], f[0])
		}
		rx, err1 := strconv.ParseInt(f[2], 10, 64)
		tx, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || rx < 0 || tx < 0 {
			return nil, fmt.Errorf("%s: counters of %s: %q and %q are not byte counts", h.Name, f[1], f[2], f[3])
		}
		got[p] = Traffic{Plane: p, Interface: f[1], RxBytes: rx, TxBytes: tx}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: counters: %w", h.Name, err)
	}
	var out2 []Traffic
	for _, p := range inventory.AllPlanes {
		if h.NICs.Get(p) == nil {
			continue
		}
		t, ok := got[p]
		if !ok {
			return nil, fmt.Errorf("%s: no counters of its %s NIC", h.Name, p)
		}
		out2 = append(out2, t)
	}
	return out2, nil
}
