package lab_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// TestLabStorageZoneHost brings up a control plane and a host of the storage zone, the way banks place registry
// and storage servers: the storage host has exactly two NICs, management and storage, with the inventory's names
// and addresses; it reaches the control plane over the storage plane; the inventory the lab writes validates with
// every local file it names (LoadAndCheckFiles), and counts the host as no Kubernetes node; berth's preflight of
// the host passes over SSH, checking its sudo and its two NICs and none of the Kubernetes requirements; and the
// lab's status sees both its cables plugged in.
func TestLabStorageZoneHost(t *testing.T) {
	l := labtest.RequireFresh(t, lab.Options{Name: "t-zone", ControlPlanes: 1, Storage: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	inv, err := inventory.LoadAndCheckFiles(l.InventoryPath)
	if err != nil {
		t.Fatalf("the lab's inventory with a storage-zone host does not validate: %v", err)
	}
	st, cp := inv.Host("storage1"), inv.Host("cp1")
	if st == nil || cp == nil {
		t.Fatalf("inventory hosts: %+v", inv.Hosts)
	}
	if st.IsNode() || len(inv.Nodes()) != 1 || st.NICs.Control != nil || st.NICs.Business != nil ||
		len(st.Roles) != 1 || st.Roles[0] != inventory.RoleStorage {
		t.Fatalf("storage1 in the inventory: roles %v, NICs %+v, nodes %d", st.Roles, st.NICs, len(inv.Nodes()))
	}

	c := dial(t, inv, st)
	got := nics(t, c)
	want := map[string]string{st.NICs.Management.Interface: st.NICs.Management.Address, st.NICs.Storage.Interface: st.NICs.Storage.Address}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("storage1 has NICs %v, want exactly %v (management and storage)", got, want)
	}
	if out, err := runErr(c, fmt.Sprintf("ping -c3 -i0.3 -W2 -I %s %s", st.NICs.Storage.Interface, cp.AddressOn(inventory.StorageNet))); err != nil {
		t.Errorf("storage1 cannot reach cp1 on the storage plane: %v\n%s", err, out)
	}
	if got := run(t, c, "sudo -n id -u"); got != "0" {
		t.Errorf("sudo on storage1: %q", got)
	}

	pool := action.NewPool(inv, nil)
	defer pool.Close()
	rep, _, err := preflight.Run(ctx, preflight.RunOptions{Options: preflight.Options{Inventory: inv, Hosts: []string{"storage1"}}, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{}
	for _, r := range rep.Results {
		if r.Host != "storage1" {
			continue
		}
		checks[r.Check] = true
		if r.Status != preflight.OK {
			t.Errorf("preflight of storage1: %s %s: %s (fix: %s)", r.Check, r.Status, r.Detail, r.Fix)
		}
	}
	for _, c := range []string{"sudo", "nic/management", "nic/storage"} {
		if !checks[c] {
			t.Errorf("preflight did not check %s of storage1: %v", c, checks)
		}
	}
	for _, c := range []string{"nic/control", "nic/business", "cpu", "memory", "swap", "cgroup", "arch", "kernel/overlay"} {
		if checks[c] {
			t.Errorf("preflight checked %s of storage1, which is no Kubernetes node: %v", c, checks)
		}
	}

	status, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.State != "running" || !s.SSH || len(s.Disconnected) > 0 {
			t.Errorf("lab status of %s: %+v", s.Name, s)
		}
	}
	if err := l.DisconnectNIC(ctx, "storage1", inventory.Control); err == nil {
		t.Error("unplugging a NIC storage1 does not have succeeded")
	}
}
