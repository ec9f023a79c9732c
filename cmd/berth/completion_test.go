package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
)

// complete asks berth for the completions of the last word, as the shell scripts of `berth completion` do, and
// returns them without descriptions.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errOut := berth(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d\n%s", args, code, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		got = append(got, name)
	}
	return got
}

func writeExampleInventory(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(path, inventory.Example, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompletion(t *testing.T) {
	t.Setenv(envInventory, "")
	inv := writeExampleInventory(t)
	exampleHosts := []string{"cp1", "cp2", "cp3", "worker1", "worker2", "reg1", "reg2"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"skip-phases", []string{"install", "--skip-phases", ""}, installer.PhaseNames()},
		{"skip-phases after a comma", []string{"install", "--skip-phases", "connect,fa"}, []string{"connect,facts"}},
		{"skip-phases of a phase run", []string{"install", "phase", "connect", "--skip-phases", "pre"}, []string{"preflight"}},
		{"install phase NAME", []string{"install", "phase", "join-"}, []string{"join-secrets", "join-control-planes", "join-workers"}},
		{"output", []string{"version", "-o", ""}, []string{"text", "json", "yaml"}},
		{"output of a text-only command", []string{"wizard", "-o", ""}, []string{"text"}},
		{"output of a long command", []string{"upgrade", "apply", "--output", "j"}, []string{"json"}},
		{"hosts", []string{"exec", "-i", inv, "--hosts", ""}, exampleHosts},
		{"hosts after a comma", []string{"preflight", "-i", inv, "--hosts", "cp1,c"}, []string{"cp1,cp2", "cp1,cp3"}},
		{"roles", []string{"exec", "-i", inv, "--roles", ""}, []string{"control-plane", "etcd", "worker", "registry", "storage"}},
		{"roles without an inventory", []string{"exec", "--roles", "st"}, []string{"storage"}},
		{"subcommand", []string{"inventory", "val"}, []string{"validate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := complete(t, tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("__complete %q = %q, want %q", tc.args, got, tc.want)
			}
		})
	}

	// $BERTH_INVENTORY stands in for -i.
	t.Setenv(envInventory, inv)
	if got := complete(t, "preflight", "--hosts", "w"); !slices.Equal(got, []string{"worker1", "worker2"}) {
		t.Errorf("--hosts with $BERTH_INVENTORY = %q", got)
	}
	// An inventory that cannot be read completes nothing; it does not fail.
	if got := complete(t, "exec", "-i", "/nonexistent.yaml", "--hosts", ""); len(got) != 0 {
		t.Errorf("--hosts of a missing inventory = %q", got)
	}
}

func TestCompletionOfLabHosts(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "rehearsal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "rehearsal", "inventory.yaml"), inventory.Example, 0o644); err != nil {
		t.Fatal(err)
	}
	got := complete(t, "lab", "ssh", "--state-dir", state, "--name", "rehearsal", "w")
	if !slices.Equal(got, []string{"worker1", "worker2"}) {
		t.Errorf("lab ssh HOST = %q", got)
	}
	if got := complete(t, "lab", "ssh", "--state-dir", state, "--name", "rehearsal", "cp1", ""); len(got) != 0 {
		t.Errorf("after the host, lab ssh completes %q", got)
	}
	if got := complete(t, "lab", "ssh", "--state-dir", state, "--name", "nosuchlab", ""); len(got) != 0 {
		t.Errorf("a lab that does not exist completes %q", got)
	}
}
