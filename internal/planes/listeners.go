package planes

import (
	"bufio"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// Command lists a host's listening TCP sockets and bound UDP sockets, numeric, with their programs, without a header.
const Command = "ss -Hlntup"

// Plane names of addresses that are on no NIC of the inventory.
const (
	Loopback = "loopback" // 127.0.0.0/8 or ::1: reachable from the host alone
	Every    = "every"    // 0.0.0.0 or :: (or *): every address of the host, so every plane
	Other    = "other"    // an address the inventory does not give the host (a pod network's bridge, a container's)
)

// MaxLines bounds what Parse reads: a host with more sockets than this is refused, not read in part.
const MaxLines = 20000

// Listener is one socket a host listens on, and the plane of its address.
type Listener struct {
	Proto   string `json:"proto"`             // tcp or udp
	Address string `json:"address"`           // as bound: a host address, a VIP, 0.0.0.0 or :: for every address
	Port    int    `json:"port"`              //
	Process string `json:"process,omitempty"` // the program, as the kernel names it (at most 15 characters)
	Plane   string `json:"plane"`             // an inventory plane, Loopback, Every or Other
	Berth   bool   `json:"berth"`             // a program berth installs on hosts
}

// Wildcard reports whether the listener takes connections on every address of the host.
func (l Listener) Wildcard() bool { return l.Plane == Every }

// String is "tcp 10.0.2.11:6443 (control) kube-apiserver".
func (l Listener) String() string {
	addr := l.Address
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s %s:%d (%s) %s", l.Proto, addr, l.Port, l.Plane, l.Process)
}

// berthPrograms are the programs berth runs on hosts, as the kernel names them (15 characters at most).
var berthPrograms = []string{"kube-apiserver", "kube-controller", "kube-scheduler", "kube-proxy", "kubelet", "etcd", "containerd",
	"haproxy", "keepalived", "dnsmasq", "coredns", "dnshealth", "flanneld", "berth-registry", "berth"}

// IsBerthProgram reports whether a process name (as the kernel gives it) is one of the programs berth runs on hosts.
func IsBerthProgram(name string) bool { return slices.Contains(berthPrograms, name) }

// Parse reads Command's output on host h. vips maps each virtual address a host may hold (the API's, a
// registry's) to its plane. A line Parse cannot read is an error naming it: output of another tool, not ss's.
func Parse(out string, h *inventory.Host, vips map[string]inventory.PlaneName) ([]Listener, error) {
	var ls []Listener
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if n++; n > MaxLines {
			return nil, fmt.Errorf("%s: more than %d listening sockets", h.Name, MaxLines)
		}
		l, err := ParseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", h.Name, line, err)
		}
		l.Plane = planeOf(l.Address, h, vips)
		l.Berth = IsBerthProgram(l.Process)
		ls = append(ls, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	slices.SortFunc(ls, func(a, b Listener) int {
		if c := strings.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Address, b.Address)
	})
	return slices.Compact(ls), nil
}

// ParseLine reads one line of Command's output, "tcp LISTEN 0 4096 10.0.2.11:6443 0.0.0.0:*
// users:(("kube-apiserver",pid=1,fd=3))", into a listener without its plane: "*" reads as 0.0.0.0, an interface
// suffix ("%lo") and an IPv4-mapped prefix are dropped.
func ParseLine(line string) (Listener, error) {
	f := strings.Fields(line)
	if len(f) < 6 {
		return Listener{}, fmt.Errorf("%d fields, want at least 6", len(f))
	}
	l := Listener{Proto: f[0]}
	if l.Proto != "tcp" && l.Proto != "udp" {
		return Listener{}, fmt.Errorf("protocol %q is neither tcp nor udp", l.Proto)
	}
	local := f[4]
	i := strings.LastIndex(local, ":")
	if i < 0 {
		return Listener{}, fmt.Errorf("local address %q has no port", local)
	}
	port, err := strconv.Atoi(local[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return Listener{}, fmt.Errorf("local address %q: port is not a number up to 65535", local)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(local[:i], "["), "]")
	if j := strings.Index(addr, "%"); j >= 0 { // bound to one interface: "127.0.0.53%lo"
		addr = addr[:j]
	}
	switch addr {
	case "*":
		addr = "0.0.0.0"
	default:
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return Listener{}, fmt.Errorf("local address %q: %w", local, err)
		}
		addr = a.Unmap().String()
	}
	l.Address, l.Port = addr, port
	if len(f) > 6 {
		users := strings.Join(f[6:], " ")
		if s := strings.Index(users, `(("`); s >= 0 {
			rest := users[s+3:]
			if e := strings.Index(rest, `"`); e >= 0 {
				l.Process = rest[:e]
			}
		}
	}
	return l, nil
}

// planeOf names the plane of a bound address on host h.
func planeOf(addr string, h *inventory.Host, vips map[string]inventory.PlaneName) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return Other
	}
	switch {
	case a.IsUnspecified():
		return Every
	case a.IsLoopback():
		return Loopback
	}
	for _, p := range inventory.AllPlanes {
		if h.AddressOn(p) == addr {
			return string(p)
		}
	}
	if p, ok := vips[addr]; ok {
		return string(p)
	}
	return Other
}

// VIPs returns every virtual address of the inventory and its plane: the API's and each registry's.
func VIPs(inv *inventory.Inventory) map[string]inventory.PlaneName {
	out := map[string]inventory.PlaneName{}
	if v := inv.ControlPlane.VIP; v != "" {
		out[v] = inv.ControlPlane.VIPPlane
	}
	for _, r := range inv.Registries {
		if r.VIP != "" {
			out[r.VIP] = r.Plane
		}
	}
	return out
}
