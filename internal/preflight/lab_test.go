package preflight_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

var labOptions = lab.Options{Name: "t-preflight", ControlPlanes: 1, Workers: 1}

func requireLab(t *testing.T) (*lab.Lab, *inventory.Inventory) {
	t.Helper()
	l := labtest.Require(t, labOptions)
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	return l, inv
}

func run(t *testing.T, inv *inventory.Inventory, dry bool) (*preflight.Report, *phase.Plan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := action.NewPool(inv, nil)
	defer pool.Close()
	rep, plan, err := preflight.Run(ctx, preflight.RunOptions{Options: preflight.Options{Inventory: inv}, DryRun: dry, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	return rep, plan
}

func TestLabPreflightPasses(t *testing.T) {
	_, inv := requireLab(t)
	rep, _ := run(t, inv, false)
	if rep.Failed() {
		var b strings.Builder
		rep.WriteTable(&b, false)
		t.Fatalf("preflight failed on a fresh lab:\n%s", b.String())
	}
	for _, h := range []string{"cp1", "worker1"} {
		for _, plane := range inventory.AllPlanes {
			if rs := rep.Find(h, "nic/"+string(plane)); len(rs) != 1 || rs[0].Status != preflight.OK {
				t.Errorf("%s nic/%s: %+v", h, plane, rs)
			}
		}
		for _, check := range []string{"sudo", "kernel/br_netfilter", "kernel/overlay", "kernel/vxlan", "cgroup", "clock", "hostname", "ports"} {
			if rs := rep.Find(h, check); len(rs) != 1 || rs[0].Status != preflight.OK {
				t.Errorf("%s %s: %+v", h, check, rs)
			}
		}
	}
}

func TestLabPreflightReportsDisconnectedNIC(t *testing.T) {
	l, inv := requireLab(t)
	ctx := context.Background()
	if err := l.DisconnectNIC(ctx, "worker1", inventory.StorageNet); err != nil {
		t.Fatal(err)
	}
	reconnected := false
	t.Cleanup(func() {
		if !reconnected {
			l.ReconnectNIC(context.Background(), "worker1", inventory.StorageNet)
		}
	})
	rep, _ := run(t, inv, false)
	if !rep.Failed() {
		t.Fatal("preflight passed with a disconnected NIC")
	}
	fails := rep.Failures()
	if len(fails) != 1 {
		t.Fatalf("want exactly one failure, got %+v", fails)
	}
	f := fails[0]
	nic := inv.Host("worker1").NICs.Storage
	if f.Host != "worker1" || f.Check != "nic/storage" ||
		!strings.Contains(f.Detail, "storage plane: "+nic.Interface+" ("+nic.Address+"/") ||
		!strings.Contains(f.Detail, "has no carrier") || !strings.Contains(f.Fix, "plug in "+nic.Interface) {
		t.Fatalf("failure = %+v", f)
	}
	var table strings.Builder
	rep.WriteTable(&table, false)
	if !strings.Contains(table.String(), "worker1  nic/storage") || !strings.Contains(table.String(), "preflight FAILED") {
		t.Fatalf("table:\n%s", table.String())
	}

	if err := l.ReconnectNIC(ctx, "worker1", inventory.StorageNet); err != nil {
		t.Fatal(err)
	}
	reconnected = true
	rep, _ = run(t, inv, false)
	if rs := rep.Find("worker1", "nic/storage"); len(rs) != 1 || rs[0].Status != preflight.OK {
		t.Fatalf("after reconnecting: %+v", rs)
	}
}

// TestLabPreflightChangesNothing proves preflight leaves the hosts as they were: under the runner's dry-run gate
// it records no change, and no file outside logs and runtime state is newer than a marker set before it ran.
func TestLabPreflightChangesNothing(t *testing.T) {
	l, inv := requireLab(t)
	ctx := context.Background()
	hosts := []string{"cp1", "worker1"}
	for _, h := range hosts {
		if out, err := l.Exec(ctx, h, "sh", "-c", "touch /run/berth-preflight-marker && sleep 1"); err != nil {
			t.Fatalf("%s: %v %s", h, err, out)
		}
	}
	_, plan := run(t, inv, true)
	if !plan.Empty() {
		t.Fatalf("preflight went through the change gate: %+v", plan.Items)
	}
	rep, _ := run(t, inv, false)
	if len(rep.Results) < 30 {
		t.Fatalf("only %d results: preflight did not really run", len(rep.Results))
	}
	// Logins and sudo write logs and runtime state (/var/log, /run, the journal); nothing else may change.
	const find = `find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log \
		-o -path /var/lib/systemd/timers -o -path /var/cache \) -prune -o -newer /run/berth-preflight-marker -print`
	for _, h := range hosts {
		out, err := l.Exec(ctx, h, "sh", "-c", find)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("preflight changed files on %s:\n%s", h, out)
		}
	}
}
