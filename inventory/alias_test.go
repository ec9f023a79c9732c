package inventory

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// laughs is an inventory whose aliases expand to fanOut³ values: fanOut tenants, each an alias of the first, with
// fanOut groups, each an alias of the first, with fanOut members. The file grows with fanOut, what it expands to
// with fanOut³.
func laughs(fanOut int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: berth.sh/v1alpha1\nkind: Inventory\nmetadata: {name: laughs, environment: dev}\ntenants:\n")
	b.WriteString("  - &t\n    name: t\n    groups:\n      - &g\n        name: g\n        role: admin\n        members: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("lol,", fanOut), ","))
	b.WriteString("]\n")
	b.WriteString(strings.Repeat("      - *g\n", fanOut-1))
	b.WriteString(strings.Repeat("  - *t\n", fanOut-1))
	return []byte(b.String())
}

// TestExcessiveAliasingIsRefused: the decoder follows aliases itself, so it needs its own guard against an
// inventory whose aliases expand exponentially ("billion laughs"). It refuses such a file at the alias that
// crosses the limit, quickly and without growing memory, and reports nothing else about it.
func TestExcessiveAliasingIsRefused(t *testing.T) {
	for _, fanOut := range []int{60, 500} { // 216 000 values from 1.5 KB; 125 million from 11 KB
		t.Run(fmt.Sprint(fanOut), func(t *testing.T) {
			data := laughs(fanOut)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			inv, problems := Parse("laughs.yaml", data)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if len(problems) != 1 || !strings.Contains(problems[0].Message, "aliases") || problems[0].Line == 0 {
				t.Fatalf("%d bytes of YAML: problems = %v, want exactly one about aliases, with a line", len(data), problems)
			}
			t.Logf("%d bytes: %s (%s) in %s, %d MB allocated", len(data), problems[0].Location(), problems[0].Message,
				took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
			if len(inv.Tenants) != 0 {
				t.Errorf("a refused file still gave %d tenants", len(inv.Tenants))
			}
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 64 {
				t.Errorf("refusing it allocated %d MB", mb)
			}
		})
	}
}

// TestModerateAliasingLoads: anchors reused a handful of times, as people write them, are fine.
func TestModerateAliasingLoads(t *testing.T) {
	src := `apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: aliases, environment: dev}
ssh: {user: berth, identityFiles: [k], knownHosts: kh}
networkPlanes:
  management: {cidr: 10.10.0.0/24}
hosts:
  - name: cp1
    address: 10.10.0.11
    roles: &cp [control-plane]
    labels: &labels {zone: a, rack: r1, owner: platform}
    nics: {management: {interface: eth0, address: 10.10.0.11}}
  - name: cp2
    address: 10.10.0.12
    roles: *cp
    labels: *labels
    nics: {management: {interface: eth0, address: 10.10.0.12}}
  - name: cp3
    address: 10.10.0.13
    roles: *cp
    labels: *labels
    nics: {management: {interface: eth0, address: 10.10.0.13}}
controlPlane: {vip: 10.10.0.100}
`
	inv, problems := Parse("aliases.yaml", []byte(src))
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if inv.Hosts[2].Labels["rack"] != "r1" || !inv.Hosts[1].Has(RoleControlPlane) {
		t.Fatalf("aliases not followed: %+v", inv.Hosts)
	}
}
