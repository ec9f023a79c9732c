package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/buildinfo"
	"github.com/berthsh/berth/inventory"
)

// berth runs the CLI in-process and returns its exit code and output streams.
func berth(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestVersion: berth version shows a semantic version (not only a commit), the Kubernetes minors berth installs
// and upgrades to, and the bundle and inventory apiVersions it reads, as text and typed in JSON and YAML;
// berth --version prints the version alone.
func TestVersion(t *testing.T) {
	code, out, _ := berth(t, "version")
	for _, want := range []string{"berth " + buildinfo.Get().Version + "\n", "go:         go1.", "kubernetes: 1.31, 1.32, 1.33",
		"bundles:    " + bundles.APIVersion, "inventory:  " + inventory.APIVersion} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("version: code %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if !buildinfo.IsSemver(buildinfo.Get().Version) {
		t.Errorf("version %q is not a semantic version", buildinfo.Get().Version)
	}
	for _, format := range []string{"json", "yaml"} {
		code, out, _ = berth(t, "version", "-o", format)
		var v VersionOutput
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(out), &v)
		} else {
			err = yaml.Unmarshal([]byte(out), &v)
		}
		if code != 0 || err != nil || v.GoVersion == "" || !buildinfo.IsSemver(v.Version) || len(v.KubernetesMinors) != 3 ||
			v.BundleAPIVersion != bundles.APIVersion || v.InventoryAPIVersion != inventory.APIVersion {
			t.Errorf("version -o %s: code %d, %v, %+v\n%s", format, code, err, v, out)
		}
	}
	code, out, _ = berth(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "berth "+buildinfo.Get().Version+" (commit ") || strings.Count(out, "\n") != 1 {
		t.Errorf("--version: code %d, %q", code, out)
	}
}

func TestInventoryExampleValidates(t *testing.T) {
	code, example, _ := berth(t, "inventory", "example")
	if code != 0 {
		t.Fatal("example failed")
	}
	path := withLocalFiles(t, "x.yaml", []byte(example), "keys/berth_ed25519", "known_hosts", "secrets/ontap.credentials")
	for _, args := range [][]string{{"inventory", "validate", path}, {"inventory", "validate", "-i", path}} {
		code, out, errOut := berth(t, args...)
		if code != 0 || !strings.Contains(out, "valid (7 hosts, 3 control planes") {
			t.Fatalf("berth %v: code %d\n%s\n%s", args, code, out, errOut)
		}
	}
	// $BERTH_INVENTORY names the inventory when -i is not given; -i or the argument wins over it.
	t.Setenv(envInventory, path)
	if code, out, errOut := berth(t, "inventory", "validate"); code != 0 || !strings.Contains(out, path+": valid") {
		t.Fatalf("validate with $BERTH_INVENTORY: code %d\n%s\n%s", code, out, errOut)
	}
	bad := overlapInventory(t)
	for _, args := range [][]string{{"inventory", "validate", bad}, {"inventory", "validate", "-i", bad}} {
		if code, _, errOut := berth(t, args...); code != exitFailure || !strings.Contains(errOut, "24-planes-overlap.yaml:12:19") {
			t.Errorf("berth %v with $BERTH_INVENTORY set: code %d, want the named file checked\n%s", args, code, errOut)
		}
	}
}

func TestInventoryValidateReportsEveryProblem(t *testing.T) {
	path := overlapInventory(t)
	code, _, errOut := berth(t, "inventory", "validate", path)
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d", code, exitFailure)
	}
	if n := strings.Count(errOut, "fix: "); n != 4 {
		t.Errorf("want 4 problems each with a fix, got %d:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "24-planes-overlap.yaml:12:19: networkPlanes.control.cidr:") {
		t.Errorf("first problem lacks file:line:col and field:\n%s", errOut)
	}
	code, out, _ := berth(t, "inventory", "validate", "-o", "json", path)
	var res struct {
		Valid    bool
		Problems []struct {
			Line     int
			Path     string
			Fix      string
			Severity string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitFailure || res.Valid || len(res.Problems) != 4 {
		t.Fatalf("json: code %d err %v res %+v\n%s", code, err, res, out)
	}
	if res.Problems[0].Line != 12 || res.Problems[0].Severity != "error" || res.Problems[0].Fix == "" {
		t.Errorf("json problem = %+v", res.Problems[0])
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv(envInventory, "")
	for _, args := range [][]string{
		{"inventory", "validate"},
		{"version", "--no-such-flag"},
		{"version", "-o", "xml"},
		{"status"},
		{"install", "-b", "b.tar"},
	} {
		code, _, errOut := berth(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "Error:") || !strings.Contains(errOut, "--help'.") {
			t.Errorf("berth %v: code %d, stderr %q; want usage error", args, code, errOut)
		}
	}
	code, _, errOut := berth(t, "inventory", "validate", "/nonexistent/inv.yaml")
	if code != exitFailure || !strings.Contains(errOut, "/nonexistent/inv.yaml") {
		t.Errorf("missing file: code %d stderr %q", code, errOut)
	}
	// With $BERTH_INVENTORY, -i is no longer missing: only the bundle is, and the inventory is the variable's.
	t.Setenv(envInventory, "/nonexistent/env-inv.yaml")
	if code, _, errOut := berth(t, "install"); code != exitUsage || !strings.Contains(errOut, "missing the required flag -b/--bundle\n") {
		t.Errorf("install with $BERTH_INVENTORY: code %d\n%s", code, errOut)
	}
	if code, _, errOut := berth(t, "status"); code != exitFailure || !strings.Contains(errOut, "/nonexistent/env-inv.yaml") {
		t.Errorf("status with $BERTH_INVENTORY: code %d, want the variable's file read\n%s", code, errOut)
	}
}

// TestOutputFormats: -o yaml works wherever -o json does, with the same field names; schema prints YAML too.
func TestOutputFormats(t *testing.T) {
	path := overlapInventory(t)
	code, out, _ := berth(t, "inventory", "validate", "-o", "yaml", path)
	var res InventoryValidateOutput
	if err := yaml.Unmarshal([]byte(out), &res); err != nil || code != exitFailure || res.Valid || len(res.Problems) != 4 ||
		!strings.Contains(out, "severity: error") {
		t.Fatalf("validate -o yaml: code %d err %v res %+v\n%s", code, err, res, out)
	}
	code, out, _ = berth(t, "inventory", "schema", "-o", "yaml")
	var schema map[string]any
	if err := yaml.Unmarshal([]byte(out), &schema); code != 0 || err != nil || schema["title"] != "berth inventory" || strings.HasPrefix(out, "{") {
		t.Fatalf("schema -o yaml: code %d err %v\n%.200s", code, err, out)
	}
}

func TestSchemaIsJSON(t *testing.T) {
	code, out, _ := berth(t, "inventory", "schema")
	var s map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s["title"] != "berth inventory" {
		t.Fatalf("schema: code %d", code)
	}
}

func TestLogFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.log")
	if code, _, _ := berth(t, "--log-file", path, "version"); code != 0 {
		t.Fatal("version with --log-file failed")
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("log file mode %v err %v, want 0600", st.Mode().Perm(), err)
	}
}
