package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

func TestExecAndPreflightUsage(t *testing.T) {
	for _, args := range [][]string{{"exec", "--", "true"}, {"exec", "-i", "x.yaml"}, {"preflight"}} {
		if code, _, errOut := berth(t, args...); code != exitUsage {
			t.Errorf("berth %v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}

// TestLabExecAndPreflightCommands runs the commands as a user would, on the preflight tests' lab.
func TestLabExecAndPreflightCommands(t *testing.T) {
	l := labtest.Require(t, lab.Options{Name: "t-preflight", ControlPlanes: 1, Workers: 1})
	inv := l.InventoryPath

	code, out, errOut := berth(t, "exec", "-i", inv, "--", "hostname")
	if code != 0 || !strings.Contains(out, "cp1     | cp1\n") || !strings.Contains(out, "worker1 | worker1\n") ||
		!strings.Contains(errOut, "exec: 2 hosts: 2 ok, 0 failed") {
		t.Fatalf("exec: %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = berth(t, "exec", "-i", inv, "--roles", "worker", "--", "exit 3")
	if code != exitFailure || !strings.Contains(errOut, "1 hosts: 0 ok, 1 failed (worker1: exit 3)") {
		t.Fatalf("failing exec: %d\n%s", code, errOut)
	}
	code, out, _ = berth(t, "exec", "-i", inv, "--dry-run", "--", "reboot")
	if code != 0 || !strings.Contains(out, "- run `reboot`") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}

	// cp1 only: internal/preflight's tests, which may run at the same time, unplug worker1's storage NIC.
	code, out, errOut = berth(t, "preflight", "-i", inv, "--roles", "control-plane")
	if code != 0 || !strings.Contains(out, "preflight passed on 1 host: 0 failed") {
		t.Fatalf("preflight: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = berth(t, "preflight", "-i", inv, "-o", "json", "--hosts", "cp1")
	var rep struct {
		Summary struct{ OK, Fail int }
		Results []struct{ Host, Check, Status string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Summary.Fail != 0 || rep.Summary.OK < 15 {
		t.Fatalf("preflight -o json: %d\n%s", code, out)
	}
	for _, r := range rep.Results {
		if r.Host != "cp1" {
			t.Fatalf("--hosts cp1 checked %s", r.Host)
		}
	}
}
