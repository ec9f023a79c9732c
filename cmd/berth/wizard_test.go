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
	for _, args := range [][]string{{"wizard"}, {"wizard", "--out", "x.yaml"}, {"wizard", "-i", "x.yaml", "-b", "b.tar"}} {
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

// TestWizardFileFlagIsOut: -o is the output format for the wizard too; the file it writes is --out, and an
// inventory to edit is -i, as for every command. Asked for a format it does not have, or for a file with -o, it says
// so and exits 2.
func TestWizardFileFlagIsOut(t *testing.T) {
	if code, out, _ := berth(t, "version", "-o", "json"); code != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("version -o json: %d %q", code, out)
	}
	for args, want := range map[string]string{
		"wizard -o json":   "berth wizard has no json output",
		"wizard -o x.yaml": "the file to write is --out",
	} {
		code, _, errOut := berth(t, strings.Fields(args)...)
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("%s: %d %s", args, code, errOut)
		}
	}
	// BERTH_INVENTORY does not turn "make a new inventory" into "edit that one".
	for _, c := range commandTree(t) {
		if c.Name() == "wizard" {
			if f := c.Flags().Lookup("inventory"); f == nil || f.Shorthand != "i" || len(f.Annotations[annotationEnv]) > 0 {
				t.Errorf("wizard's -i: %+v", f)
			}
			if c.Flags().Lookup("out") == nil || c.Flags().Lookup("from") != nil {
				t.Error("wizard: want --out, and no --from")
			}
		}
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
		t.Fatalf("undecodable -i: %v", err)
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
