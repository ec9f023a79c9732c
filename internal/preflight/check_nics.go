package preflight

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// checkNICs: each defined plane's NIC must exist under the inventory's interface name, be up and carry the
// inventory's address, with the plane's prefix length.
func checkNICs(in *input, h *inventory.Host, f *Facts) []Result {
	var out []Result
	for _, plane := range in.inv.NetworkPlanes.Defined() {
		nic := h.NICs.Get(plane)
		if nic == nil {
			continue // validation reports a missing NIC in the inventory itself
		}
		at := fmt.Sprintf("hosts[%s].nics.%s", h.Name, plane)
		r := Result{Host: h.Name, Check: "nic/" + string(plane), Status: OK}
		link, hasLink := f.Links[nic.Interface]
		onNIC, elsewhere := "", ""
		var others []string
		for _, a := range f.Addrs {
			ip := strings.SplitN(a.CIDR, "/", 2)[0]
			if a.Interface == nic.Interface {
				others = append(others, a.CIDR)
				if ip == nic.Address {
					onNIC = a.CIDR
				}
			} else if ip == nic.Address {
				elsewhere = a.Interface
			}
		}
		switch {
		case !hasLink && elsewhere != "":
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: no interface %s; %s is on %s", plane, nic.Interface, nic.Address, elsewhere)
			r.Fix = fmt.Sprintf("set %s.interface to %s", at, elsewhere)
		case !hasLink:
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: interface %s (%s) is missing; the host has %s", plane, nic.Interface,
				nic.Address, strings.Join(linkNames(f), ", "))
			r.Fix = fmt.Sprintf("connect the host's %s-plane NIC as %s with %s, or correct %s", plane, nic.Interface, nic.Address, at)
		case onNIC == "" && elsewhere != "":
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: %s is on %s, not on %s", plane, nic.Address, elsewhere, nic.Interface)
			r.Fix = fmt.Sprintf("set %s.interface to %s, or move the address", at, elsewhere)
		case onNIC == "":
			have := "no IPv4 address"
			if len(others) > 0 {
				have = strings.Join(others, ", ")
			}
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: %s has %s, not %s", plane, nic.Interface, have, nic.Address)
			r.Fix = fmt.Sprintf("configure %s on %s, or correct %s.address", nic.Address, nic.Interface, at)
		case !link.Up:
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: %s (%s) is down", plane, nic.Interface, onNIC)
			r.Fix = fmt.Sprintf("bring %s up (ip link set %s up) and make it persistent", nic.Interface, nic.Interface)
		case !link.Carrier:
			r.Status = Fail
			r.Detail = fmt.Sprintf("%s plane: %s (%s) has no carrier: the cable is out or the switch port is down", plane, nic.Interface, onNIC)
			r.Fix = fmt.Sprintf("plug in %s's cable, or have the network team enable the switch port of the %s plane%s",
				nic.Interface, plane, vlan(in.inv, plane))
		default:
			r.Detail = fmt.Sprintf("%s plane: %s %s up", plane, nic.Interface, onNIC)
			if pfx, ok := in.inv.NetworkPlanes.Prefix(plane); ok {
				if got, err := netip.ParsePrefix(onNIC); err == nil && got.Bits() != pfx.Bits() {
					r.Status = Warn
					r.Detail += fmt.Sprintf("; prefix /%d differs from the plane's %s", got.Bits(), pfx)
					r.Fix = "align the interface's netmask with networkPlanes." + string(plane) + ".cidr"
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func linkNames(f *Facts) []string {
	var out []string
	for n := range f.Links {
		if n != "lo" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func vlan(inv *inventory.Inventory, plane inventory.PlaneName) string {
	if p := inv.NetworkPlanes.Get(plane); p != nil && p.VLAN != 0 {
		return fmt.Sprintf(" (VLAN %d)", p.VLAN)
	}
	return ""
}
