package adhoc

import (
	"strings"
	"sync"
	"testing"

	"github.com/berthsh/berth/inventory"
)

func testInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, problems := inventory.Parse("inv.yaml", []byte(`apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: t, environment: dev}
ssh: {user: berth, identityFiles: [k], knownHosts: kh}
networkPlanes: {management: {cidr: 10.0.0.0/24}}
hosts:
  - {name: cp1, address: 10.0.0.11, roles: [control-plane], nics: {management: {interface: eth0, address: 10.0.0.11}}}
  - {name: w1, address: 10.0.0.21, roles: [worker], nics: {management: {interface: eth0, address: 10.0.0.21}}}
  - {name: reg1, address: 10.0.0.31, roles: [registry], nics: {management: {interface: eth0, address: 10.0.0.31}}}
controlPlane: {vip: 10.0.0.100}
`))
	if problems.Errors() != nil {
		t.Fatal(problems)
	}
	return inv
}

func TestSelectHosts(t *testing.T) {
	inv := testInventory(t)
	tests := []struct {
		roles   []inventory.Role
		names   []string
		want    string
		wantErr string
	}{
		{want: "cp1,w1,reg1"},
		{roles: []inventory.Role{"worker"}, want: "w1"},
		{roles: []inventory.Role{"etcd"}, want: "cp1"}, // control planes run stacked etcd
		{roles: []inventory.Role{"worker", "registry"}, want: "w1,reg1"},
		{names: []string{"reg1", "cp1"}, want: "cp1,reg1"},
		{roles: []inventory.Role{"worker"}, names: []string{"cp1"}, wantErr: "no host matches roles [worker] and hosts [cp1]"},
		{names: []string{"cp9"}, wantErr: `host "cp9" is not in the inventory; hosts: cp1, w1, reg1`},
		{roles: []inventory.Role{"workers"}, wantErr: `unknown role "workers"; roles: control-plane, etcd, worker, registry, storage`},
	}
	for _, tc := range tests {
		got, err := SelectHosts(inv, tc.roles, tc.names)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("SelectHosts(%v, %v) err = %v, want %s", tc.roles, tc.names, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("SelectHosts(%v, %v) = %v, %v; want %s", tc.roles, tc.names, got, err, tc.want)
		}
	}
}

func TestPrefixWriterKeepsLinesWhole(t *testing.T) {
	var out strings.Builder
	var mu sync.Mutex
	a := &prefixWriter{mu: &mu, out: &out, prefix: []byte("cp1 | ")}
	b := &prefixWriter{mu: &mu, out: &out, prefix: []byte("w1  | ")}
	a.Write([]byte("hel"))
	b.Write([]byte("one\ntw"))
	a.Write([]byte("lo\n"))
	b.Write([]byte("o"))
	a.Flush()
	b.Flush()
	want := "w1  | one\ncp1 | hello\nw1  | two\n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestSummary(t *testing.T) {
	r := &Report{Results: []HostResult{{Host: "cp1"}, {Host: "w1", ExitCode: 4, Error: "exit status 4"},
		{Host: "reg1", ExitCode: -1, Error: "connect to reg1: i/o timeout\nmore"}}}
	want := "3 hosts: 1 ok, 2 failed (w1: exit 4; reg1: connect to reg1: i/o timeout)"
	if got := r.Summary(); got != want {
		t.Fatalf("got %s", got)
	}
}
