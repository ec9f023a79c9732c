package preflight

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/remote"
)

// TestUnameArchitectures: uname -m's names become the names bundles use.
func TestUnameArchitectures(t *testing.T) {
	for machine, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"} {
		if got := goArch(machine); got != want {
			t.Errorf("goArch(%q) = %q, want %q", machine, got, want)
		}
	}
}

// factsHost answers the preflight commands with the lab host's facts, with the given uname -m.
type factsHost struct {
	name, machine string
	facts         []byte
}

func (h factsHost) Host() string { return h.name }
func (h factsHost) Sudo() bool   { return false }
func (h factsHost) Run(_ context.Context, c remote.Cmd) (remote.Result, error) {
	switch c.Command {
	case factsScript:
		out := strings.Replace(string(h.facts), "### arch\nx86_64\n", "### arch\n"+h.machine+"\n", 1)
		return remote.Result{Stdout: out}, nil
	case "date +%s%N":
		return remote.Result{Stdout: fmt.Sprint(time.Now().UnixNano())}, nil
	}
	return remote.Result{}, fmt.Errorf("unexpected command %q", c.Command)
}

// TestArchCheckComparesBundleAndHost: an amd64 bundle on an arm64 host fails, naming the host, both
// architectures and the fix; matching architectures pass; no bundle architecture means no check.
func TestArchCheckComparesBundleAndHost(t *testing.T) {
	facts, err := os.ReadFile("testdata/facts-lab-cp1.txt")
	if err != nil {
		t.Fatal(err)
	}
	inv := labInventory(t)
	run := func(bundleArch, machine string) *Report {
		t.Helper()
		rep, err := New(Options{Inventory: inv, Hosts: []string{"cp1"}, Arch: bundleArch, Connect: func(name string) (Host, error) {
			return factsHost{name: name, machine: machine, facts: facts}, nil
		}}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run("amd64", "aarch64")
	r := findResult(rep.Results, "arch")
	if r == nil || r.Status != Fail {
		t.Fatalf("amd64 bundle on an aarch64 host: %+v", r)
	}
	for _, want := range []string{"cp1", "arm64", "amd64"} {
		if !strings.Contains(r.Host+" "+r.Detail, want) {
			t.Errorf("result %+v does not name %s", r, want)
		}
	}
	if !strings.Contains(r.Fix, "arm64") {
		t.Errorf("fix %q does not say which bundle to use", r.Fix)
	}
	if r := findResult(run("amd64", "x86_64").Results, "arch"); r == nil || r.Status != OK {
		t.Errorf("amd64 bundle on an x86_64 host: %+v", r)
	}
	if r := findResult(run("", "aarch64").Results, "arch"); r != nil {
		t.Errorf("no bundle architecture, still checked: %+v", r)
	}
}
