package inventory

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// PlanesFor follows the roles and the fallbacks of PlaneFor: nodes need every plane node traffic uses, registry
// and storage hosts management and storage (or management alone where storage falls back to it).
func TestPlanesFor(t *testing.T) {
	planes := func(names ...PlaneName) NetworkPlanes {
		var np NetworkPlanes
		for i, n := range names {
			np.Set(n, &Plane{CIDR: []string{"10.10.0.0/24", "10.20.0.0/24", "10.30.0.0/24", "10.40.0.0/24"}[i]})
		}
		return np
	}
	all := planes(Management, Control, StorageNet, Business)
	tests := []struct {
		name   string
		planes NetworkPlanes
		roles  []Role
		edit   func(*Inventory)
		want   []PlaneName
	}{
		{"worker, four planes", all, []Role{RoleWorker}, nil, []PlaneName{Management, Control, StorageNet, Business}},
		{"control plane, four planes", all, []Role{RoleControlPlane, RoleEtcd}, nil, []PlaneName{Management, Control, StorageNet, Business}},
		{"registry, four planes", all, []Role{RoleRegistry}, nil, []PlaneName{Management, StorageNet}},
		{"storage, four planes", all, []Role{RoleStorage}, nil, []PlaneName{Management, StorageNet}},
		{"registry and storage", all, []Role{RoleRegistry, RoleStorage}, nil, []PlaneName{Management, StorageNet}},
		{"worker, management and control", planes(Management, Control), []Role{RoleWorker}, nil, []PlaneName{Management, Control}},
		{"registry, no storage plane", planes(Management, Control), []Role{RoleRegistry}, nil, []PlaneName{Management}},
		{"worker, management only", planes(Management), []Role{RoleWorker}, nil, []PlaneName{Management}},
		{"worker with pods on control", all, []Role{RoleWorker}, func(inv *Inventory) { inv.Kubernetes.PodPlane = Control },
			[]PlaneName{Management, Control, StorageNet}},
		{"registry serving on business", all, []Role{RoleRegistry}, func(inv *Inventory) {
			inv.Registries = []Registry{{Name: "user", Hosts: []string{"h"}, Plane: Business}}
		}, []PlaneName{Management, StorageNet, Business}},
		{"control plane, VIP on management, pods on control", planes(Management, Control, StorageNet), []Role{RoleControlPlane},
			func(inv *Inventory) { inv.ControlPlane.VIPPlane = Management }, []PlaneName{Management, Control, StorageNet}},
		{"storage and worker", all, []Role{RoleStorage, RoleWorker}, nil, []PlaneName{Management, Control, StorageNet, Business}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Inventory{NetworkPlanes: tt.planes, Hosts: []Host{{Name: "h", Roles: tt.roles}}}
			if tt.edit != nil {
				tt.edit(inv)
			}
			inv.Default()
			var got []PlaneName
			for _, n := range inv.PlanesFor(&inv.Hosts[0]) {
				got = append(got, n.Plane)
				if n.Role == "" || n.For == "" {
					t.Errorf("need %+v does not say why", n)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PlanesFor = %v, want %v", got, tt.want)
			}
		})
	}
}

// An inventory whose registry and storage hosts have only management and storage NICs validates, and only its
// nodes join Kubernetes.
func TestStorageZoneHostsAreNotNodes(t *testing.T) {
	inv, err := Load("testdata/valid/storage-zone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, h := range inv.Nodes() {
		nodes = append(nodes, h.Name)
	}
	if want := []string{"cp1", "cp2", "cp3", "w1"}; !slices.Equal(nodes, want) {
		t.Errorf("nodes %v, want %v", nodes, want)
	}
	for _, name := range []string{"reg1", "st1"} {
		h := inv.Host(name)
		if h.IsNode() || h.NICs.Control != nil || h.NICs.Business != nil || inv.NodeIP(h) != "" {
			t.Errorf("%s: node %v, NICs %+v, node IP %q", name, h.IsNode(), h.NICs, inv.NodeIP(h))
		}
	}
}

// A host behind a jump host of its own gets that bastion, its port default and pins; the others keep the global
// one. A host's sudo password reference overrides the inventory's.
func TestSSHForPerHostBastionAndSudoPassword(t *testing.T) {
	inv, err := Load("testdata/valid/storage-zone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w1, st1 := inv.SSHFor(inv.Host("w1")), inv.SSHFor(inv.Host("st1"))
	if w1.Bastion == nil || w1.Bastion.Address != "jump.example.bank" || w1.Bastion.Port != 22 || w1.Bastion.User != "berth" ||
		w1.BastionAt != "ssh.bastion" || w1.SudoPassword != "env:BERTH_SUDO_PASSWORD" || !w1.Sudo {
		t.Errorf("w1: %+v bastion %+v", w1, w1.Bastion)
	}
	if st1.Bastion == nil || st1.Bastion.Address != "10.10.0.6" || st1.Bastion.Port != 22 || st1.Bastion.User != "jump" ||
		st1.BastionAt != "hosts[5].ssh.bastion" || len(st1.BastionPins) != 1 || st1.SudoPassword != "file:st1.sudo" || st1.User != "ops" {
		t.Errorf("st1: %+v bastion %+v", st1, st1.Bastion)
	}
}

// LocalFiles names every file the inventory points at that cannot be read, at the field that names it.
func TestLocalFiles(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/valid/storage-zone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "  knownHosts: known_hosts\n", "  knownHosts: hosts.d\n  passwordFrom: file:secrets/ssh-password\n", 1))
	write := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(dir+"/"+name, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("inventory.yaml", src, 0o644)
	write("id_ed25519", []byte("key"), 0o600)
	if err := os.Mkdir(dir+"/hosts.d", 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = LoadAndCheckFiles(dir + "/inventory.yaml")
	ie, ok := err.(*Error)
	if !ok {
		t.Fatalf("LoadAndCheckFiles = %v, want the missing files", err)
	}
	report := ie.Error()
	for _, want := range []string{
		"inventory.yaml:12:15: ssh.knownHosts: known_hosts " + dir + "/hosts.d is a directory, not a regular file",
		"inventory.yaml:13:17: ssh.passwordFrom: secret " + dir + "/secrets/ssh-password does not exist",
		"fix: create the file with the secret alone in it (chmod 600), or correct the path (a relative path starts at the inventory's directory, " + dir + ")",
		"hosts[5].ssh.sudoPasswordFrom: secret " + dir + "/st1.sudo does not exist",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "id_ed25519") {
		t.Errorf("the key exists and is readable, yet it is reported:\n%s", report)
	}
	// Load alone checks the document, not this machine.
	if _, err := Load(dir + "/inventory.yaml"); err != nil {
		t.Errorf("Load: %v", err)
	}
	os.Remove(dir + "/hosts.d")
	write("hosts.d", []byte("cp1 ssh-ed25519 AAAA\n"), 0o644)
	os.Mkdir(dir+"/secrets", 0o700)
	write("secrets/ssh-password", []byte("pw"), 0o600)
	write("st1.sudo", []byte("pw"), 0o600)
	if _, err := LoadAndCheckFiles(dir + "/inventory.yaml"); err != nil {
		t.Errorf("every file is there now: %v", err)
	}
	if os.Geteuid() != 0 { // root reads every file
		os.Chmod(dir+"/st1.sudo", 0)
		if _, err := LoadAndCheckFiles(dir + "/inventory.yaml"); err == nil || !strings.Contains(err.Error(), "st1.sudo cannot be read: permission denied") {
			t.Errorf("unreadable secret: %v", err)
		}
	}
}
