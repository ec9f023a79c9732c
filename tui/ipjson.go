package tui

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ProbeScript is the shell a Discoverer runs on a host (without sudo): the host name, then the JSON of `ip -j
// addr show` and of `ip -j -4 neigh show`, separated by marker lines. ParseProbe reads its output.
const ProbeScript = `hostname; echo '--berth-addr--'; ip -j addr show; echo '--berth-neigh--'; ip -j -4 neigh show 2>/dev/null || echo '[]'`

// ParseProbe reads the output of ProbeScript into facts (Hostname, Interfaces, Neighbors).
func ParseProbe(out string) (HostFacts, error) {
	var f HostFacts
	host, rest, ok := strings.Cut(out, "--berth-addr--\n")
	if !ok {
		return f, fmt.Errorf("parse probe output: no address section (is iproute2 installed?)")
	}
	f.Hostname = strings.TrimSpace(host)
	addr, neigh, _ := strings.Cut(rest, "--berth-neigh--\n")
	ifaces, err := ParseIPAddrJSON([]byte(addr))
	if err != nil {
		return f, err
	}
	slices.SortStableFunc(ifaces, func(a, b Interface) int { return naturalCompare(a.Name, b.Name) })
	f.Interfaces = ifaces
	if strings.TrimSpace(neigh) != "" {
		if f.Neighbors, err = ParseIPNeighJSON([]byte(neigh)); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ParseIPAddrJSON reads the output of `ip -j addr show`: every interface but loopback, with its IPv4 addresses.
func ParseIPAddrJSON(data []byte) ([]Interface, error) {
	var links []struct {
		IfName   string   `json:"ifname"`
		Flags    []string `json:"flags"`
		LinkType string   `json:"link_type"`
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Secondary bool   `json:"secondary"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(data, &links); err != nil {
		return nil, fmt.Errorf("parse ip -j addr output: %w", err)
	}
	var out []Interface
	for _, l := range links {
		if l.LinkType == "loopback" || slices.Contains(l.Flags, "LOOPBACK") {
			continue
		}
		iface := Interface{Name: l.IfName, Up: slices.Contains(l.Flags, "UP")}
		for _, a := range l.AddrInfo {
			if a.Family != "inet" {
				continue
			}
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("parse address %q of %s: %w", a.Local, l.IfName, err)
			}
			pfx := netip.PrefixFrom(addr, a.PrefixLen)
			iface.Addrs = append(iface.Addrs, pfx)
			if a.Secondary {
				iface.Secondary = append(iface.Secondary, pfx)
			}
		}
		out = append(out, iface)
	}
	return out, nil
}

// ParseIPNeighJSON reads the output of `ip -j -4 neigh show`: addresses some machine answered for.
func ParseIPNeighJSON(data []byte) ([]netip.Addr, error) {
	var entries []struct {
		Dst   string   `json:"dst"`
		State []string `json:"state"`
	}
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse ip -j neigh output: %w", err)
	}
	var out []netip.Addr
	for _, e := range entries {
		if slices.Contains(e.State, "FAILED") || slices.Contains(e.State, "INCOMPLETE") {
			continue
		}
		if a, err := netip.ParseAddr(e.Dst); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out, nil
}

// naturalCompare orders names with numbers by value: eth2 before eth10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
