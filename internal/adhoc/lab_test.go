package adhoc_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/adhoc"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// The preflight tests' lab: these tests only run read-only commands (and one that must not run at all).
var labOptions = lab.Options{Name: "t-preflight", ControlPlanes: 1, Workers: 1}

func TestLabExecFanOut(t *testing.T) {
	l := labtest.Require(t, labOptions)
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool := action.NewPool(inv, nil)
	defer pool.Close()

	var out bytes.Buffer
	rep, err := adhoc.Run(ctx, adhoc.Options{Inventory: inv, Pool: pool, Command: "hostname; id -u", Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, want := range []string{"cp1     | cp1", "cp1     | 0", "worker1 | worker1", "worker1 | 0"} {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if rep.Failed != 0 || rep.Summary() != "2 hosts: 2 ok, 0 failed" {
		t.Fatalf("report: %+v", rep)
	}

	// One host fails: every host still runs, the failure is named, the error is set.
	rep, err = adhoc.Run(ctx, adhoc.Options{Inventory: inv, Pool: pool, Command: `[ "$(hostname)" = worker1 ] && exit 4; echo fine`})
	if err == nil || rep.Failed != 1 || rep.Summary() != "2 hosts: 1 ok, 1 failed (worker1: exit 4)" {
		t.Fatalf("err=%v summary=%s", err, rep.Summary())
	}
	if rep.Results[0].Stdout != "fine\n" || rep.Results[1].ExitCode != 4 {
		t.Fatalf("results: %+v", rep.Results)
	}

	// Selection by role, and the login user without sudo.
	rep, err = adhoc.Run(ctx, adhoc.Options{Inventory: inv, Pool: pool, Roles: []inventory.Role{inventory.RoleWorker}, Command: "id -un", NoSudo: true})
	if err != nil || len(rep.Results) != 1 || rep.Results[0].Host != "worker1" || rep.Results[0].Stdout != "berth\n" {
		t.Fatalf("roles: %+v %v", rep, err)
	}

	// A per-host timeout kills the command.
	start := time.Now()
	_, err = adhoc.Run(ctx, adhoc.Options{Inventory: inv, Pool: pool, Hosts: []string{"cp1"}, Command: "sleep 60", Timeout: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}

	// A dry run lists the hosts and runs nothing.
	l.Exec(ctx, "cp1", "rm", "-f", "/root/berth-dry-run-probe")
	rep, err = adhoc.Run(ctx, adhoc.Options{Inventory: inv, Pool: pool, Command: "touch /root/berth-dry-run-probe", DryRun: true})
	if err != nil || len(rep.Plan.Items) != 2 || rep.Plan.Items[0].Action != "run `touch /root/berth-dry-run-probe`" {
		t.Fatalf("dry run: %+v %v", rep.Plan, err)
	}
	if out, _ := l.Exec(ctx, "cp1", "sh", "-c", "ls /root/berth-dry-run-probe 2>/dev/null || echo absent"); strings.TrimSpace(out) != "absent" {
		t.Fatal("the dry run ran the command")
	}
}
