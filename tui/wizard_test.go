package tui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

// enterUntil presses enter until the wizard shows page want (at most n times).
func (d *driver) enterUntil(want string, n int) {
	d.t.Helper()
	for i := 0; i < n && d.page() != want; i++ {
		d.keys("enter")
	}
	d.requirePage(want)
}

// fillNew drives the wizard through a new two-host inventory up to the review page.
func fillNew(d *driver) {
	d.t.Helper()
	d.requirePage("Cluster")
	d.keys("payments-uat", "enter", "right", "right", "right", "enter", "enter")
	d.requirePage("SSH access")
	d.keys("berth", "enter", "enter", "id_ed25519", "enter", "enter", "enter", "known_hosts", "enter", "enter")
	d.keys("172.30.10.11", "enter", "enter")
	d.requireScreen("✓ connected to 172.30.10.11 (cp1) as berth, sudo works", "eth1       172.30.20.11/24")
	d.keys("enter")
	d.requirePage("Hosts")
	d.keys("a", "172.30.10.11", "enter", "enter")
	d.keys("a", "172.30.10.21", "enter", "enter")
	d.requireScreen("cp1", "worker1", "✓ cp1, 4 NICs", "✓ worker1, 4 NICs")
	d.keys("enter")
	d.requirePage("Networks")
	d.requireScreen("Subnets seen on the hosts: 172.30.10.0/24 (eth0), 172.30.20.0/24 (eth1)")
	d.keys("172.30.10.0/24", "enter", "enter", "172.30.20.0/24", "enter", "enter", "enter", "enter", "enter", "enter")
	d.requirePage("NICs")
	d.requireScreen("cp1 (172.30.10.11)", "management  ‹ eth0        172.30.10.11 ›", "control     eth1        172.30.20.21", "✓ discovered")
	d.keys("enter")
	d.requirePage("API VIP")
	d.enterUntil("DNS", 8)
	d.keys("10.10.0.53, 10.10.0.54")
	d.enterUntil("Registries & storage", 6)
	d.keys("enter")
	d.requirePage("Review")
}

func TestNewInventoryWrittenAndValid(t *testing.T) {
	disc := labDiscoverer()
	files := &dirFiles{}
	out := filepath.Join(t.TempDir(), "payments.yaml")
	d := newDriver(t, Options{Output: out, Discoverer: disc, Files: files})
	fillNew(d)
	d.requireScreen("✓ Valid: passes berth inventory validate")
	d.keys("enter")
	d.requirePage("Write")
	d.keys("enter")
	d.requireWritten(out)
	inv, err := inventory.Load(out)
	if err != nil {
		t.Fatalf("written inventory does not load: %v", err)
	}
	cp := inv.Host("cp1")
	w := inv.Host("worker1")
	if cp == nil || w == nil || !cp.Has(inventory.RoleControlPlane) || !w.Has(inventory.RoleWorker) {
		t.Fatalf("hosts: %+v", inv.Hosts)
	}
	if n := w.NICs.Control; n == nil || n.Interface != "eth1" || n.Address != "172.30.20.21" {
		t.Errorf("worker1 control NIC %+v, want eth1 172.30.20.21 (discovered, chosen by CIDR)", n)
	}
	// .254 answered in a host's neighbour table, so the suggestion skips it.
	if inv.ControlPlane.VIP != "172.30.20.253" {
		t.Errorf("VIP %q, want the suggested 172.30.20.253", inv.ControlPlane.VIP)
	}
	if got := inv.DNS.Upstreams; !reflect.DeepEqual(got, []string{"10.10.0.53", "10.10.0.54"}) {
		t.Errorf("upstreams %v", got)
	}
	if inv.SSH.IdentityFiles[0] != "id_ed25519" || inv.SSH.KnownHosts != "known_hosts" {
		t.Errorf("key paths not kept as typed: %+v", inv.SSH)
	}
	// The file holds what was typed, not the defaults Load fills in.
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "connectTimeout") || strings.Contains(string(data), "podCIDR") {
		t.Errorf("defaults were written into the file:\n%s", data)
	}
	d.keys("enter")
	d.requirePage("Preflight")
	d.requireScreen("Preflight is not available in this build.")
	d.keys("enter")
	d.requirePage("Install")
	d.requireScreen("install is not available in this build.", "install it with: berth install -i")
	d.keys("q")
	if !d.quit || d.m.Result().Written != out || d.m.Result().Aborted {
		t.Fatalf("after q: quit %v, result %+v", d.quit, d.m.Result())
	}
}

func TestFromKeepsEveryField(t *testing.T) {
	inv, _ := exampleInventory(t)
	want, _ := exampleInventory(t)
	out := filepath.Join(t.TempDir(), "copy.yaml")
	d := newDriver(t, Options{Inventory: inv, Output: out, Discoverer: labDiscoverer()})
	d.enterUntil("Review", 60)
	wantYAML, err := inventory.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.m.yaml) != string(wantYAML) {
		t.Fatalf("walking the pages changed the inventory:\n--- got\n%s\n--- want\n%s", d.m.yaml, wantYAML)
	}
	d.requireScreen("✓ Valid: passes berth inventory validate")
	d.keys("enter", "enter")
	d.requireWritten(out)
	got, err := inventory.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := inventory.Load("../inventory/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Tenants, orig.Tenants) || !reflect.DeepEqual(got.OpenStack, orig.OpenStack) ||
		!reflect.DeepEqual(got.Storage, orig.Storage) || !reflect.DeepEqual(got.Metadata.Labels, orig.Metadata.Labels) ||
		!reflect.DeepEqual(got.Hosts, orig.Hosts) || !reflect.DeepEqual(got.Registries, orig.Registries) ||
		!reflect.DeepEqual(got.Kubernetes, orig.Kubernetes) || !reflect.DeepEqual(got.NetworkPlanes, orig.NetworkPlanes) ||
		!reflect.DeepEqual(got.Firewall, orig.Firewall) {
		t.Fatal("the written file lost fields of the --from inventory")
	}
}

func TestReviewJumpsToTheFieldThatFixesAProblem(t *testing.T) {
	inv, _ := exampleInventory(t)
	inv.Hosts[1].Address = "not an address!"
	inv.Hosts[3].NICs.Control.Address = "10.99.0.21"
	d := newDriver(t, Options{Inventory: inv})
	d.enterUntil("Review", 60)
	d.requireScreen("2 error(s)", `› ✗ hosts[1].address: "not an address!" is neither an address nor a DNS`, "(Hosts)", "(NICs)",
		"65✗     address: not an address!")
	d.keys("enter")
	d.requirePage("Hosts")
	if p := d.m.pages[d.m.cur].(*hostsPage); p.editing != 1 || p.f.focused().key != "hosts[1].address" {
		t.Fatalf("editor on host %d, field %q; want host 1, its address", p.editing, p.f.focused().key)
	}
	d.requireScreen(`› Address  not an address!`, `✗ "not an address!" is neither an address nor a DNS name`, "fix: write an IPv4 address or a DNS name")
	d.keys("ctrl+u", "10.10.0.12")
	if strings.Contains(d.screen(), "is neither an address") {
		t.Fatalf("problem still shown after the fix:\n%s", d.screen())
	}
	d.keys("enter", "enter") // save the host
	d.enterUntil("Review", 40)
	d.requireScreen("1 error(s)", "hosts[3].nics.control.address")
	d.keys("enter")
	d.requirePage("NICs")
	d.requireScreen("› control     eth1        10.99.0.21", `✗ 10.99.0.21 is outside plane "control" (10.20.0.0/24)`)
	d.keys("e")
	d.keys("tab", "ctrl+u", "10.20.0.21", "enter")
	d.enterUntil("Review", 40)
	d.requireScreen("✓ Valid: passes berth inventory validate")
}

func TestNeverOverwritesWithoutAsking(t *testing.T) {
	inv, _ := exampleInventory(t)
	out := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(out, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, Options{Inventory: inv, Output: out})
	d.enterUntil("Write", 80)
	d.keys("enter")
	d.requireScreen("Overwrite it? y/n")
	d.keys("n")
	if data, _ := os.ReadFile(out); string(data) != "precious\n" {
		t.Fatal("file changed although the answer was no")
	}
	d.keys("enter", "y")
	d.requireWritten(out)
	if _, err := inventory.Load(out); err != nil {
		t.Fatal(err)
	}
}

func TestCtrlCQuitsWithoutWriting(t *testing.T) {
	out := filepath.Join(t.TempDir(), "inventory.yaml")
	files := &dirFiles{}
	d := newDriver(t, Options{Output: out, Files: files, Discoverer: labDiscoverer()})
	fillNew(d)
	d.keys("ctrl+c")
	if !d.quit || !d.m.Result().Aborted || d.m.Result().Written != "" || len(files.writes) != 0 {
		t.Fatalf("quit %v, result %+v, writes %v", d.quit, d.m.Result(), files.writes)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a file was written: %v", err)
	}
	if d.m.ctx.Err() == nil {
		t.Fatal("running work was not cancelled")
	}
}

func TestEscGoesBackAndFieldsKeepTheirValues(t *testing.T) {
	d := newDriver(t, Options{Discoverer: labDiscoverer()})
	d.keys("dev1", "enter", "enter", "enter")
	d.requirePage("SSH access")
	d.keys("esc")
	d.requirePage("Cluster")
	d.requireScreen("› Cluster name  dev1")
	d.keys("esc") // nothing before the first page
	d.requirePage("Cluster")
}

func TestFieldParseErrorsStayOnTheField(t *testing.T) {
	d := newDriver(t, Options{})
	d.keys("enter", "enter", "enter")
	d.requirePage("SSH access")
	d.keys("enter", "22a")
	d.requireScreen("✗ write a whole number")
	d.keys("backspace")
	if strings.Contains(d.screen(), "whole number") || d.m.inv.SSH.Port != 22 {
		t.Fatalf("port %d:\n%s", d.m.inv.SSH.Port, d.screen())
	}
}

func TestUnknownHostKeyIsPinnedOnlyWhenAsked(t *testing.T) {
	disc := labDiscoverer()
	const fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
	disc.errs["172.30.10.11"] = &HostKeyError{Address: "172.30.10.11:22", KeyType: "ssh-ed25519", Fingerprint: fp}
	inv, _ := exampleInventory(t)
	inv.Hosts = inv.Hosts[:1]
	inv.Hosts[0].Address = "172.30.10.11"
	d := newDriver(t, Options{Inventory: inv, Discoverer: disc})
	d.enterUntil("Hosts", 20)
	d.requireScreen("✗ host key unknown", "ctrl+p pins the offered key")
	d.keys("p")
	d.requireScreen("Pin this key for cp1?")
	d.keys("n")
	if inv.Hosts[0].SSH != nil {
		t.Fatal("pinned although the answer was no")
	}
	delete(disc.errs, "172.30.10.11")
	d.keys("p", "y")
	if inv.Hosts[0].SSH == nil || !reflect.DeepEqual(inv.Hosts[0].SSH.HostKeys, []string{fp}) {
		t.Fatalf("pin: %+v", inv.Hosts[0].SSH)
	}
	d.requireScreen("✓ cp1, 4 NICs") // probed again with the pin
}

func TestChangedHostKeyIsNeverOffered(t *testing.T) {
	disc := labDiscoverer()
	disc.errs["172.30.10.11"] = &HostKeyError{Address: "172.30.10.11:22", KeyType: "ssh-ed25519",
		Fingerprint: "SHA256:x", Changed: true}
	inv, _ := exampleInventory(t)
	inv.Hosts[0].Address = "172.30.10.11"
	d := newDriver(t, Options{Inventory: inv, Discoverer: disc})
	d.enterUntil("Hosts", 20)
	d.requireScreen("✗ host key changed")
	d.keys("p")
	if strings.Contains(d.screen(), "Pin this key") {
		t.Fatal("offered to pin a changed key")
	}
}

func TestResizeKeepsTheScreenInside(t *testing.T) {
	inv, _ := exampleInventory(t)
	d := newDriver(t, Options{Inventory: inv})
	d.enterUntil("Review", 60)
	for _, size := range [][2]int{{60, 20}, {140, 50}, {80, 24}} {
		d.send(teaSize(size[0], size[1]))
		lines := strings.Split(d.screen(), "\n")
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := len([]rune(l)); w > size[0] {
				t.Errorf("%dx%d: line of %d cells: %q", size[0], size[1], w, l)
			}
		}
		hasSidebar := strings.Contains(d.screen(), "1 Cluster")
		if hasSidebar != (size[0] >= 80) {
			t.Errorf("%dx%d: sidebar shown %v", size[0], size[1], hasSidebar)
		}
	}
}

func (d *driver) requireWritten(path string) {
	d.t.Helper()
	d.requireScreen("✓ Wrote")
	if got := d.m.Result().Written; got != path {
		d.t.Fatalf("written %q, want %q", got, path)
	}
}
