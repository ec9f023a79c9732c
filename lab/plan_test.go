package lab

import (
	"net/netip"
	"testing"

	"github.com/berthsh/berth/inventory"
)

func TestPlanHosts(t *testing.T) {
	tests := []struct {
		cp, w, r, s int
		want        []hostSpec
	}{
		{1, 1, 0, 0, []hostSpec{{"cp1", inventory.RoleControlPlane, 11}, {"worker1", inventory.RoleWorker, 21}}},
		{0, 2, 1, 0, []hostSpec{{"worker1", inventory.RoleWorker, 21}, {"worker2", inventory.RoleWorker, 22},
			{"registry1", inventory.RoleRegistry, 31}}},
		{3, 0, 0, 0, []hostSpec{{"cp1", inventory.RoleControlPlane, 11}, {"cp2", inventory.RoleControlPlane, 12},
			{"cp3", inventory.RoleControlPlane, 13}}},
		{1, 0, 1, 2, []hostSpec{{"cp1", inventory.RoleControlPlane, 11}, {"registry1", inventory.RoleRegistry, 31},
			{"storage1", inventory.RoleStorage, 41}, {"storage2", inventory.RoleStorage, 42}}},
		{9, 0, 0, 0, nil}, // checked below: the ninth control plane is .19
	}
	for _, tt := range tests {
		got := planHosts(tt.cp, tt.w, tt.r, tt.s)
		if tt.want == nil {
			if last := got[len(got)-1]; last.Name != "cp9" || last.Offset != 19 {
				t.Errorf("planHosts(9,0,0) ends with %+v, want cp9 at .19", last)
			}
			continue
		}
		if len(got) != len(tt.want) {
			t.Fatalf("planHosts(%d,%d,%d,%d) = %+v, want %+v", tt.cp, tt.w, tt.r, tt.s, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("planHosts(%d,%d,%d,%d)[%d] = %+v, want %+v", tt.cp, tt.w, tt.r, tt.s, i, got[i], tt.want[i])
			}
		}
	}
}

func TestBuildHostsAddressesAndInterfaces(t *testing.T) {
	subnets := defaultSubnets(0)
	subnets[inventory.StorageNet] = netip.MustParsePrefix("10.50.0.0/16")
	hosts := buildHosts("x", planHosts(1, 1, 0, 1), subnets)
	want := map[string]map[inventory.PlaneName]NIC{
		"cp1": {
			inventory.Management: {"eth0", "172.30.10.11"}, inventory.Control: {"eth1", "172.30.20.11"},
			inventory.StorageNet: {"eth2", "10.50.0.11"}, inventory.Business: {"eth3", "172.30.40.11"},
		},
		"worker1": {
			inventory.Management: {"eth0", "172.30.10.21"}, inventory.Control: {"eth1", "172.30.20.21"},
			inventory.StorageNet: {"eth2", "10.50.0.21"}, inventory.Business: {"eth3", "172.30.40.21"},
		},
		"storage1": {inventory.Management: {"eth0", "172.30.10.41"}, inventory.StorageNet: {"eth2", "10.50.0.41"}},
	}
	for _, h := range hosts {
		if h.Container != "berth-x-"+h.Name {
			t.Errorf("%s: container %q", h.Name, h.Container)
		}
		for plane, nic := range want[h.Name] {
			if h.NICs[plane] != nic {
				t.Errorf("%s %s: NIC %+v, want %+v", h.Name, plane, h.NICs[plane], nic)
			}
		}
		if len(h.NICs) != len(want[h.Name]) {
			t.Errorf("%s has NICs on %v, want %d planes", h.Name, h.Planes(), len(want[h.Name]))
		}
		if h.Address() != want[h.Name][inventory.Management].Address {
			t.Errorf("%s: address %s", h.Name, h.Address())
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{Workers: 1}, true},
		{"upper case name", Options{Name: "Lab", Workers: 1}, false},
		{"name too long", Options{Name: "a23456789012345678901", Workers: 1}, false},
		{"no hosts", Options{Name: "x"}, false},
		{"ten workers", Options{Name: "x", Workers: 10}, false},
		{"storage hosts only", Options{Name: "x", Storage: 2}, true},
		{"ten storage hosts", Options{Name: "x", Workers: 1, Storage: 10}, false},
		{"negative", Options{Name: "x", ControlPlanes: -1, Workers: 1}, false},
		{"unknown plane", Options{Name: "x", Workers: 1, Subnets: map[inventory.PlaneName]string{"dmz": "10.0.0.0/24"}}, false},
		{"host bits set", Options{Name: "x", Workers: 1, Subnets: map[inventory.PlaneName]string{"control": "10.0.0.1/24"}}, false},
		{"too small", Options{Name: "x", Workers: 1, Subnets: map[inventory.PlaneName]string{"control": "10.0.0.0/28"}}, false},
		{"good subnet", Options{Name: "x", Workers: 1, Subnets: map[inventory.PlaneName]string{"control": "10.0.0.0/24"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.StateDir = t.TempDir()
			got, err := tt.opts.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("withDefaults() error = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && (got.Name == "" || got.Logger == nil) {
				t.Errorf("defaults not applied: %+v", got)
			}
		})
	}
}
