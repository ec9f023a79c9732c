package installer

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
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
	if len(ls) != 3 || ls[0].Addr != "10.0.3.31:5000" || !ls[0].ReadOnly || ls[1].Addr != "127.0.1.1:5000" || ls[1].ReadOnly || ls[1].HTPasswd != "" ||
		ls[2].Addr != "10.0.3.100:5000" || !ls[2].ReadOnly || ls[2].suffix != "vip" {
		t.Errorf("System registry listeners (the third on its VIP, read-only): %+v", ls)
	}
	ls = usr.listeners("secret")
	if len(ls) != 2 || ls[0].Addr != "10.0.4.31:5000" || !ls[0].ReadOnly || ls[0].HTPasswd != "" ||
		ls[1].Addr != "10.0.4.31:5001" || ls[1].ReadOnly || ls[1].HTPasswd != "/etc/berth/registry/user/htpasswd" {
		t.Errorf("User registry listeners: %+v", ls)
	}
	if ls[1].Notify != "http://127.0.2.2:5001/events" {
		t.Errorf("the User registry on two hosts reports its pushes to %q", ls[1].Notify)
	}
	if sys.root() == usr.root() || !strings.HasPrefix(sys.root(), "/srv/registry/") {
		t.Errorf("storage: %s and %s", sys.root(), usr.root())
	}
	if sys.unitName("") == usr.unitName("") || sys.unitName("push") != "berth-registry-system-push.service" ||
		sys.configPath("vip") != "/etc/berth/registry/system/vip.yml" || sys.configPath("") != "/etc/berth/registry/system/config.yml" {
		t.Errorf("units: %s %s %s", sys.unitName(""), sys.unitName("push"), usr.unitName(""))
	}
	usr.reg.VIP = "10.0.4.100"
	ls = usr.listeners("secret")
	if len(ls) != 4 || ls[3].Addr != "10.0.4.100:5001" || ls[3].HTPasswd == "" || ls[3].Notify == "" || !ls[2].ReadOnly {
		t.Errorf("User registry listeners with a VIP (pulls and pushes there too): %+v", ls)
	}
	usr.reg.VIP = ""

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

// TestRegistryVIPAndSyncFiles: each registry host gets a keepalived configuration that keepalived itself accepts
// (unicast to the other hosts on the registry's plane, its own router ID, a health script on its plane listener),
// and a User registry's sync service gets a configuration its reader accepts, 0600, naming every push listener.
func TestRegistryVIPAndSyncFiles(t *testing.T) {
	inv := &inventory.Inventory{Hosts: []inventory.Host{{Name: "reg1"}, {Name: "reg2"}}}
	inv.NetworkPlanes.Set(inventory.StorageNet, &inventory.Plane{CIDR: "10.0.3.0/24"})
	inv.NetworkPlanes.Set(inventory.Business, &inventory.Plane{CIDR: "10.0.4.0/24"})
	for i, h := range []string{"31", "32"} {
		inv.Hosts[i].NICs.Set(inventory.StorageNet, &inventory.NIC{Interface: "eth2", Address: "10.0.3." + h})
		inv.Hosts[i].NICs.Set(inventory.Business, &inventory.NIC{Interface: "eth3", Address: "10.0.4." + h})
	}
	inv.Registries = []inventory.Registry{
		{Name: "system", Role: inventory.RegistrySystem, Hosts: []string{"reg1", "reg2"}, Plane: inventory.StorageNet, Port: 5000,
			VIP: "10.0.3.100", VirtualRouterID: 52, StoragePath: "/srv/registry", Engine: inventory.EngineDistribution},
		{Name: "user", Role: inventory.RegistryUser, Hosts: []string{"reg1", "reg2"}, Plane: inventory.Business, Port: 5000, PushPort: 5001,
			VIP: "10.0.4.100", VirtualRouterID: 53, StoragePath: "/srv/registry", Engine: inventory.EngineDistribution},
	}
	c := &Cluster{Inv: inv}
	insts := c.registryInstances()
	if len(insts) != 4 {
		t.Fatalf("%d instances", len(insts))
	}
	reg2sys := insts[1]
	files, err := c.registryVIPFiles(reg2sys)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(files[1].Content)
	for _, want := range []string{"vrrp_instance berth_registry_system", "virtual_router_id 52", "priority 140", "unicast_src_ip 10.0.3.32",
		"10.0.3.31", "10.0.3.100/24 dev eth2", "/etc/berth/registry/system/vip-check.sh"} {
		if !strings.Contains(conf, want) {
			t.Errorf("keepalived configuration of system on reg2 lacks %q:\n%s", want, conf)
		}
	}
	if check := string(files[0].Content); !strings.Contains(check, "/dev/tcp/10.0.3.32/5000") || files[0].Mode != 0o755 {
		t.Errorf("health script: %s", check)
	}
	if unit := string(files[2].Content); !strings.Contains(unit, "--use-file=/etc/berth/registry/system/keepalived.conf") ||
		!strings.Contains(unit, "--pid=/run/berth-registry-system-keepalived.pid") {
		t.Errorf("unit: %s", unit)
	}
	if keepalived, err := exec.LookPath("keepalived"); err == nil {
		p := filepath.Join(t.TempDir(), "keepalived.conf")
		os.WriteFile(p, files[1].Content, 0o600)
		out, err := exec.Command(keepalived, "--config-test", "-f", p).CombinedOutput()
		// An absent interface and script are warnings here; syntax errors fail.
		if err != nil && !strings.Contains(string(out), "eth2") && !strings.Contains(string(out), "vip-check") {
			t.Errorf("keepalived rejects the configuration: %v\n%s", err, out)
		}
	}

	usr := insts[3]
	if !usr.syncs() || reg2sys.syncs() {
		t.Errorf("syncs: user %v, system %v", usr.syncs(), reg2sys.syncs())
	}
	if usr.syncAddr() != "127.0.2.2:5001" {
		t.Errorf("sync address %s", usr.syncAddr())
	}
	sf, err := c.registrySyncFiles(usr, []byte("CA"), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if sf[1].Mode != 0o600 {
		t.Errorf("sync configuration mode %v", sf[1].Mode)
	}
	cfg, err := airgap.ParseSyncConfig(sf[1].Content)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Replicas) != 2 || cfg.Replicas[0].Addr != "10.0.4.31:5001" || cfg.Replicas[1].Addr != "10.0.4.32:5001" || cfg.Listen != usr.syncAddr() {
		t.Errorf("sync configuration: %+v", cfg)
	}
}

// TestPulledUpstreams: nodes pull from the System registry the images of every upstream it mirrors (all of the
// bundle's when it names none), not those of an upstream only the User registry mirrors; add-on pods may pull
// exactly where all their images are pulled; a cluster without a System registry imports everything.
func TestPulledUpstreams(t *testing.T) {
	m := &bundles.Manifest{Images: []bundles.Image{
		{Name: "proxy", Refs: []string{"registry.k8s.io/kube-proxy:v1.31.4"}},
		{Name: "flannel", Refs: []string{"ghcr.io/flannel-io/flannel:v0.28.4"}},
		{Name: "dnsmasq", Refs: []string{"berth.sh/dnsmasq:2.90"}},
	}}
	inv := &inventory.Inventory{Registries: []inventory.Registry{
		{Name: "user", Role: inventory.RegistryUser, Engine: inventory.EngineDistribution, Mirrors: []string{"docker.io", "ghcr.io"}},
		{Name: "system", Role: inventory.RegistrySystem, Engine: inventory.EngineDistribution},
	}}
	c := &Cluster{Inv: inv, Bundle: &bundles.Bundle{Manifest: m}}
	if got, want := c.PulledUpstreams(), []string{"berth.sh", "registry.k8s.io"}; !slices.Equal(got, want) {
		t.Errorf("pulled upstreams %v, want %v (ghcr.io goes to the User registry, which does not hold the bundle's images)", got, want)
	}
	if p := c.pullPolicy("registry.k8s.io/coredns/coredns:v1.11.3", "", "berth.sh/dnsmasq:2.90"); p != "IfNotPresent" {
		t.Errorf("DNS images all pulled: policy %s", p)
	}
	if p := c.pullPolicy("ghcr.io/flannel-io/flannel:v0.28.4"); p != "Never" {
		t.Errorf("flannel imported: policy %s", p)
	}
	_, node := airgap.ImageSets(m, c.PulledUpstreams())
	if len(node.Images) != 1 || node.Images[0].Name != "flannel" {
		t.Errorf("nodes import %+v, want flannel alone", node.Images)
	}
	c.Inv = &inventory.Inventory{}
	if got := c.PulledUpstreams(); got != nil {
		t.Errorf("no registries, pulled %v", got)
	}
}
