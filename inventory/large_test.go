package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// largeInventory writes a valid inventory with the given number of hosts, each with a NIC on three planes,
// labels and a taint: about 450 bytes per host.
func largeInventory(hosts int) []byte {
	var b strings.Builder
	b.WriteString(`apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: large, environment: perf}
ssh: {user: berth, identityFiles: [k], knownHosts: kh}
networkPlanes:
  management: {cidr: 100.64.0.0/10}
  control: {cidr: 172.16.0.0/12}
  business: {cidr: 192.0.0.0/8}
kubernetes: {podCIDR: 10.0.0.0/8, serviceCIDR: 198.18.0.0/15}
controlPlane: {vip: 172.16.0.1}
hosts:
`)
	for i := range hosts {
		role := "worker"
		if i < 3 {
			role = "control-plane"
		}
		a, c := i/250, i%250+2
		fmt.Fprintf(&b, `  - name: node-%06d
    address: 100.64.%d.%d
    roles: [%s]
    nics:
      management: {interface: eth0, address: 100.64.%d.%d}
      control: {interface: eth1, address: 172.16.%d.%d}
      business: {interface: eth2, address: 192.0.%d.%d}
    labels: {zone: zone-%d, rack: rack-%d, owner: platform-team}
    taints: ["dedicated=batch:NoSchedule"]
`, i, a, c, role, a, c, a, c, a, c, i%3, i%40)
	}
	return []byte(b.String())
}

// BenchmarkLoadLarge loads valid inventories of 1 MB and of 16 MB (the largest berth reads): 2 900 and 45 000
// hosts.
func BenchmarkLoadLarge(b *testing.B) {
	for _, hosts := range []int{2900, 45000} {
		data := largeInventory(hosts)
		p := filepath.Join(b.TempDir(), "large.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%.0fMB", float64(len(data))/1e6), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Load(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestKnockOnsFilteredInLinearTime: a large broken file has as many validation problems as decoding problems;
// telling knock-on problems apart must not compare every pair (it took over two minutes for these).
func TestKnockOnsFilteredInLinearTime(t *testing.T) {
	var decoding, validation Problems
	for i := range 30000 {
		decoding = append(decoding, Problem{Path: fmt.Sprintf("hosts[%d].roles", i)})
		validation = append(validation, Problem{Path: fmt.Sprintf("hosts[%d].roles[0]", i)}, Problem{Path: fmt.Sprintf("hosts[%d].nics", i)})
	}
	start := time.Now()
	kept := withoutKnockOns(validation, decoding)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s", took)
	}
	if len(kept) != 30000 || kept[0].Path != "hosts[0].nics" {
		t.Errorf("kept %d problems, first %+v; want the 30 000 about nics", len(kept), kept[0])
	}
}

// TestInventoryFileIsBoundedAndRegular: no real inventory comes near 16 MiB, and a FIFO or a device is no
// inventory at all; each is refused at once, naming the file.
func TestInventoryFileIsBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16<<20 + 1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{huge, "larger than 16 MiB"},
		{fifo, "named pipe"},
		{"/dev/zero", "character device"},
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(tc.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("Load(%s) = %.200v, want an error naming it and saying %q", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Load(%s) still blocked after 5 s", tc.path)
		}
	}
}
