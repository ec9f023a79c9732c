package tui

import (
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/berthsh/berth/inventory"
)

func TestParseProbeOfALabHost(t *testing.T) {
	// Output of ProbeScript on a lab host (Debian 12, iproute2 6.1).
	data, err := os.ReadFile("testdata/probe-lab-cp1.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseProbe(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Hostname != "cp1" {
		t.Errorf("hostname %q", f.Hostname)
	}
	var got []string
	for _, i := range f.Interfaces {
		for _, a := range i.Addrs {
			got = append(got, i.Name+" "+a.String())
		}
		if !i.Up {
			t.Errorf("%s not up", i.Name)
		}
	}
	want := []string{"eth0 172.30.10.11/24", "eth1 172.30.20.11/24", "eth2 172.30.30.11/24", "eth3 172.30.40.11/24"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("interfaces %v, want %v (sorted, loopback left out)", got, want)
	}
	if len(f.Neighbors) == 0 {
		t.Error("no neighbours parsed")
	}
}

// A control plane of an installed cluster holds the API VIP as a secondary address on its control NIC (and has a
// flannel.1 interface): discovery still picks its own address, and the VIP is never proposed again.
func TestProbeOfAControlPlaneHoldingTheVIP(t *testing.T) {
	data, err := os.ReadFile("testdata/probe-lab-cp1-vip.txt") // ProbeScript on an installed lab control plane
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseProbe(string(data))
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParsePrefix("172.30.20.254/24")
	if cs := matching(f, netip.MustParsePrefix("172.30.20.0/24")); len(cs) != 2 || !cs[1].secondary || cs[1].prefix != vip {
		t.Fatalf("control plane choices %+v, want the host's address and the VIP marked secondary", cs)
	}
	c, ok := pick(matching(f, netip.MustParsePrefix("172.30.20.0/24")), "172.30.10.11")
	if !ok || c.String() != "eth1 172.30.20.11/24" {
		t.Errorf("control NIC: %v %v, want eth1 172.30.20.11/24 (the VIP is secondary)", c, ok)
	}
	only := HostFacts{Interfaces: []Interface{{Name: "eth1", Addrs: []netip.Prefix{vip, netip.MustParsePrefix("172.30.20.12/24")},
		Secondary: []netip.Prefix{vip, netip.MustParsePrefix("172.30.20.12/24")}}}}
	if c, ok := pick(matching(only, netip.MustParsePrefix("172.30.20.0/24")), "172.30.10.11"); ok {
		t.Errorf("two secondary addresses and no tie breaker: picked %v", c)
	}
}

func TestParseProbeErrors(t *testing.T) {
	for name, out := range map[string]string{
		"no sections":     "cp1\n",
		"not json":        "cp1\n--berth-addr--\nip: command not found\n--berth-neigh--\n[]\n",
		"bad neigh":       "cp1\n--berth-addr--\n[]\n--berth-neigh--\n{\n",
		"bad address":     "cp1\n--berth-addr--\n[{\"ifname\":\"eth0\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"x\",\"prefixlen\":24}]}]\n",
		"truncated addrs": "cp1\n--berth-addr--\n[{\"ifname\":",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseProbe(out); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"eth2", "eth10", true}, {"eth10", "eth2", false}, {"bond0", "eth0", true}, {"eth0", "eth0.200", true},
		{"ens3", "ens3f1", true}, {"eth01", "eth2", true},
	} {
		if got := naturalCompare(tc.a, tc.b) < 0; got != tc.less {
			t.Errorf("%s < %s: %v, want %v", tc.a, tc.b, got, tc.less)
		}
	}
}

func TestPickMatchingNIC(t *testing.T) {
	f := HostFacts{Interfaces: []Interface{
		{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24"), netip.MustParsePrefix("10.0.0.6/24")}},
		{Name: "eth1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.5/24")}},
		{Name: "eth2"},
	}}
	for _, tc := range []struct {
		name    string
		plane   string
		ssh     string
		want    string
		matched bool
	}{
		{"one match", "10.1.0.0/24", "10.0.0.5", "eth1 10.1.0.5/24", true},
		{"two matches, ssh address breaks the tie", "10.0.0.0/24", "10.0.0.6", "eth0 10.0.0.6/24", true},
		{"two matches, no tie breaker", "10.0.0.0/24", "10.9.9.9", "", false},
		{"none", "10.2.0.0/24", "10.0.0.5", "", false},
		{"wider plane takes both NICs", "10.0.0.0/15", "10.1.0.5", "eth1 10.1.0.5/24", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := pick(matching(f, netip.MustParsePrefix(tc.plane)), tc.ssh)
			if ok != tc.matched || (ok && c.String() != tc.want) {
				t.Fatalf("got %v %v, want %q %v", c, ok, tc.want, tc.matched)
			}
		})
	}
}

func TestAutoNICsNeverChangesAChosenNIC(t *testing.T) {
	inv, _ := exampleInventory(t)
	inv.Hosts = inv.Hosts[:1]
	inv.Hosts[0].Address = "172.30.10.11"
	inv.NetworkPlanes.Management.CIDR = "172.30.10.0/24"
	inv.NetworkPlanes.Control.CIDR = "172.30.20.0/24"
	inv.Hosts[0].NICs.Management = &inventory.NIC{Interface: "bond0", Address: "172.30.10.11"}
	inv.Hosts[0].NICs.Control = nil
	m := New(Options{Inventory: inv, Discoverer: labDiscoverer()})
	m.disc.finish(m, probeMsg{key: targetKey(m.targetFor(&inv.Hosts[0])), facts: labFacts("cp1", 11)})
	if n := inv.Hosts[0].NICs.Management; n.Interface != "bond0" {
		t.Errorf("management NIC changed to %+v", n)
	}
	if n := inv.Hosts[0].NICs.Control; n == nil || n.Interface != "eth1" || n.Address != "172.30.20.11" {
		t.Errorf("control NIC %+v, want the discovered eth1", n)
	}
}

func TestSuggestVIP(t *testing.T) {
	inv, _ := exampleInventory(t)
	m := New(Options{Inventory: inv})
	a, ok := suggestVIP(m, inventory.Control)
	if !ok || a.String() != "10.20.0.254" {
		t.Errorf("suggested %v %v, want 10.20.0.254 (the last host address of 10.20.0.0/24)", a, ok)
	}
	inv.NetworkPlanes.Control.Gateway = "10.20.0.254"
	inv.Hosts[0].NICs.Control.Address = "10.20.0.253"
	if a, _ := suggestVIP(m, inventory.Control); a.String() != "10.20.0.252" {
		t.Errorf("suggested %v, want 10.20.0.252 past the gateway and a host NIC", a)
	}
	inv.NetworkPlanes.Control.CIDR = "10.20.0.0/31"
	if _, ok := suggestVIP(m, inventory.Control); ok {
		t.Error("suggested a VIP on a /31")
	}
	inv.NetworkPlanes.Control.CIDR = "10.20.0.0/30"
	if a, ok := suggestVIP(m, inventory.Control); !ok || a.String() != "10.20.0.2" {
		t.Errorf("on a /30: %v %v, want 10.20.0.2", a, ok)
	}
}

func TestProbeResultsFollowTheSSHSettings(t *testing.T) {
	disc := labDiscoverer()
	inv, _ := exampleInventory(t)
	inv.Hosts = inv.Hosts[:1]
	inv.Hosts[0].Address = "172.30.10.11"
	d := newDriver(t, Options{Inventory: inv, Discoverer: disc})
	d.enterUntil("Hosts", 20)
	n := len(disc.probes)
	if n == 0 || d.m.disc.result(d.m, &inv.Hosts[0]).status != probeOK {
		t.Fatalf("host not probed on entering the hosts page (%d probes)", n)
	}
	inv.Hosts[0].Name = "renamed"
	if r := d.m.disc.result(d.m, &inv.Hosts[0]); r == nil {
		t.Error("renaming a host dropped its probe result")
	}
	inv.SSH.User = "other"
	if r := d.m.disc.result(d.m, &inv.Hosts[0]); r != nil {
		t.Error("a probe result survived a change of the login user")
	}
	d.keys("esc")
	d.enterUntil("Hosts", 20)
	if len(disc.probes) != n+1 || disc.probes[n].User != "other" {
		t.Errorf("not probed again with the new user: %+v", disc.probes)
	}
}
