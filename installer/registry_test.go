package installer

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

// TestRegistryListeners: a System registry listens read-only on its plane and takes pushes only on a loopback
// address of its own, without credentials; a User registry listens read-only on its plane and takes pushes on its
// pushPort, on the same address, with credentials. Certificates name the VIP, every replica and (System) the
// loopback address; two registries on one host never share a loopback address.
func TestRegistryListeners(t *testing.T) {
	inv := &inventory.Inventory{Hosts: []inventory.Host{{Name: "reg1"}, {Name: "reg2"}}}
	for i, h := range []string{"31", "32"} {
		inv.Hosts[i].NICs.Set(inventory.StorageNet, &inventory.NIC{Interface: "eth2", Address: "10.0.3." + h})
		inv.Hosts[i].NICs.Set(inventory.Business, &inventory.NIC{Interface: "eth3", Address: "10.0.4." + h})
	}
	inv.Registries = []inventory.Registry{
		{Name: "system", Role: inventory.RegistrySystem, Hosts: []string{"reg1", "reg2"}, Plane: inventory.StorageNet, Port: 5000, VIP: "10.0.3.100", StoragePath: "/srv/registry"},
		{Name: "user", Role: inventory.RegistryUser, Hosts: []string{"reg1", "reg2"}, Plane: inventory.Business, Port: 5000, PushPort: 5001, StoragePath: "/srv/registry"},
	}
	sys := registryInstance{reg: &inv.Registries[0], index: 0, host: &inv.Hosts[0]}
	usr := registryInstance{reg: &inv.Registries[1], index: 1, host: &inv.Hosts[0]}

	ls := sys.listeners("secret")
	if len(ls) != 2 || ls[0].Addr != "10.0.3.31:5000" || !ls[0].ReadOnly || ls[1].Addr != "127.0.1.1:5000" || ls[1].ReadOnly || ls[1].HTPasswd != "" {
		t.Errorf("System registry listeners: %+v", ls)
	}
	ls = usr.listeners("secret")
	if len(ls) != 2 || ls[0].Addr != "10.0.4.31:5000" || !ls[0].ReadOnly || ls[0].HTPasswd != "" ||
		ls[1].Addr != "10.0.4.31:5001" || ls[1].ReadOnly || ls[1].HTPasswd != "/etc/berth/registry/user/htpasswd" {
		t.Errorf("User registry listeners: %+v", ls)
	}
	if sys.root() == usr.root() || !strings.HasPrefix(sys.root(), "/srv/registry/") {
		t.Errorf("storage: %s and %s", sys.root(), usr.root())
	}
	if sys.unitName(0) == usr.unitName(0) || sys.unitName(1) != "berth-registry-system-push.service" {
		t.Errorf("units: %s %s %s", sys.unitName(0), sys.unitName(1), usr.unitName(0))
	}

	leaf, err := registryLeaf(inv, &inv.Registries[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range leaf.IPs {
		got = append(got, ip.String())
	}
	if want := []string{"10.0.3.100", "10.0.3.31", "10.0.3.32", "127.0.1.1"}; !slices.Equal(got, want) {
		t.Errorf("System certificate names %v, want %v", got, want)
	}
	leaf, _ = registryLeaf(inv, &inv.Registries[1], 1)
	if len(leaf.IPs) != 2 || slices.Contains(leaf.IPs, netip.MustParseAddr("127.0.1.2")) {
		t.Errorf("User certificate names %v; want its two replicas only", leaf.IPs)
	}
	inv.Hosts[1].NICs.Set(inventory.Business, nil)
	if _, err := registryLeaf(inv, &inv.Registries[1], 1); err == nil || !strings.Contains(err.Error(), "reg2 has no NIC on plane business") {
		t.Errorf("a replica without a NIC on the plane: %v", err)
	}
}
