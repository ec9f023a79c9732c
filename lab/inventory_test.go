package lab

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berthsh/berth/inventory"
)

// The inventory the lab writes must load (defaults, validation) without errors for every shape Up accepts, and
// point SSH at the lab's own key and known_hosts.
func TestWrittenInventoryLoads(t *testing.T) {
	tests := []struct {
		name        string
		cp, w, r, s int
		subnets     map[inventory.PlaneName]string
	}{
		{name: "one control plane, one worker", cp: 1, w: 1},
		{name: "HA with registries", cp: 3, w: 2, r: 2},
		{name: "nine of each", cp: 9, w: 9, r: 9, s: 9},
		{name: "storage zone", cp: 1, w: 1, s: 2},
		{name: "custom /16 subnets", cp: 1, w: 2, subnets: map[inventory.PlaneName]string{
			"management": "10.60.0.0/16", "control": "10.61.0.0/16", "storage": "10.62.0.0/16", "business": "10.63.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			subnets, _, err := allocateSubnets(tt.subnets, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := &state{Name: "t-inv", Subnets: map[inventory.PlaneName]string{}, ControlPlanes: tt.cp, Workers: tt.w, Registries: tt.r, Storage: tt.s}
			for p, s := range subnets {
				st.Subnets[p] = s.String()
			}
			l, err := labFromState(dir, st, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.writeInventory(); err != nil {
				t.Fatal(err)
			}
			inv, err := inventory.Load(l.InventoryPath)
			if err != nil {
				t.Fatalf("inventory.Load: %v", err)
			}
			if len(inv.Hosts) != tt.cp+tt.w+tt.r+tt.s || len(inv.ControlPlanes()) != tt.cp || len(inv.Nodes()) != tt.cp+tt.w {
				t.Errorf("hosts %d, control planes %d", len(inv.Hosts), len(inv.ControlPlanes()))
			}
			if inv.ControlPlane.VIP != nthAddr(subnets[inventory.Control], 100).String() || inv.ControlPlane.VIPPlane != inventory.Control {
				t.Errorf("VIP %s on %s", inv.ControlPlane.VIP, inv.ControlPlane.VIPPlane)
			}
			if len(inv.DNS.Upstreams) != 0 {
				t.Errorf("DNS upstreams %v: the lab must not point at resolvers outside it", inv.DNS.Upstreams)
			}
			// Registry hosts run the two registries: System on storage, User on business.
			wantRegistries := 0
			if tt.r > 0 {
				wantRegistries = 2
			}
			if len(inv.Registries) != wantRegistries || (wantRegistries == 2 && (inv.Registries[0].Plane != inventory.StorageNet ||
				inv.Registries[1].Role != inventory.RegistryUser || inv.Registries[1].Plane != inventory.Business || len(inv.Registries[1].Hosts) != tt.r)) {
				t.Errorf("registries: %+v", inv.Registries)
			}
			for _, r := range inv.Registries { // a VIP at .100 of the registry's plane once two hosts share it
				want := ""
				if tt.r > 1 {
					want = nthAddr(subnets[r.Plane], 100).String()
				}
				if r.VIP != want {
					t.Errorf("registry %s: VIP %q, want %q", r.Name, r.VIP, want)
				}
			}
			for i, h := range l.Hosts {
				ih := inv.Host(h.Name)
				if ih == nil {
					t.Fatalf("host %s missing", h.Name)
				}
				for _, plane := range inventory.AllPlanes {
					nic, labNIC := ih.NICs.Get(plane), h.NICs[plane]
					if _, has := h.NICs[plane]; !has {
						if nic != nil {
							t.Errorf("%s has no %s NIC in the lab, but one in the inventory: %+v", h.Name, plane, nic)
						}
						continue
					}
					if nic == nil || nic.Address != labNIC.Address || nic.Interface != labNIC.Interface {
						t.Errorf("%s %s: inventory NIC %+v, lab NIC %+v", h.Name, plane, nic, labNIC)
					}
				}
				if h.Roles[0] == inventory.RoleStorage && (len(h.NICs) != 2 || ih.IsNode()) {
					t.Errorf("storage host %s: NICs on %v, node %v; want management and storage only, no node", h.Name, h.Planes(), ih.IsNode())
				}
				target := inv.SSHFor(ih)
				if target.User != User || !target.Sudo || target.Port != 22 || target.Address != h.Address() {
					t.Errorf("host %d ssh target %+v", i, target)
				}
				if target.KnownHosts != filepath.Join(dir, knownHostsFile) ||
					len(target.IdentityFiles) != 1 || target.IdentityFiles[0] != filepath.Join(dir, keyFile) {
					t.Errorf("ssh files resolve to %s and %v, want the lab directory's", target.KnownHosts, target.IdentityFiles)
				}
			}
			if fi, err := os.Stat(l.InventoryPath); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("inventory file: %v %v", fi, err)
			}
		})
	}
}
