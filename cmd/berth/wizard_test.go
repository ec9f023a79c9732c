package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/tui"
)

func TestWizardWithoutATerminalPointsToTheUnattendedPath(t *testing.T) {
	for _, args := range [][]string{{"wizard"}, {"wizard", "-o", "x.yaml"}, {"wizard", "--from", "x.yaml", "-b", "b.tar"}} {
		code, out, errOut := berth(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		for _, want := range []string{"needs a terminal", "berth inventory example", "berth install -i"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, errOut)
			}
		}
		if out != "" {
			t.Errorf("%v: stdout %q", args, out)
		}
	}
}

func TestWizardOutputFlagLeavesTheGlobalOneAlone(t *testing.T) {
	// -o names the file for the wizard; for every other command it is still the output format.
	if code, out, _ := berth(t, "version", "-o", "json"); code != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("version -o json: %d %q", code, out)
	}
	code, _, errOut := berth(t, "wizard", "-o", "json")
	if code != exitUsage || strings.Contains(errOut, "--output must be") {
		t.Fatalf("wizard -o json: %d %s", code, errOut)
	}
}

func TestWizardOptionsFromKeepsTheFileAndRefusesUndecodable(t *testing.T) {
	a := &app{}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	example, err := os.ReadFile("../../inventory/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, example, 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := wizardOptions(a, "", good, "")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Output != good || opts.Inventory == nil || len(opts.Inventory.Tenants) != 1 || opts.Dir != dir {
		t.Fatalf("options %+v", opts)
	}
	if opts.Discoverer == nil || opts.Preflighter == nil || opts.Files == nil {
		t.Fatal("engine not wired")
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: berth.sh/v1alpha1\nkind: Inventory\nhostz: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wizardOptions(a, "", bad, ""); err == nil || !strings.Contains(err.Error(), "bad.yaml:3:1") {
		t.Fatalf("undecodable --from: %v", err)
	}
}

func TestOSFilesNeverOverwritesUnasked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "inventory.yaml")
	var f osFiles
	if err := f.WriteFile(path, []byte("one\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(path, []byte("two\n"), false); !errors.Is(err, tui.ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one\n" {
		t.Fatalf("content %q", data)
	}
	if err := f.WriteFile(path, []byte("two\n"), true); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "two\n" || st.Mode().Perm() != 0o644 {
		t.Fatalf("content %q mode %v", data, st.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".inventory.yaml.*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}
