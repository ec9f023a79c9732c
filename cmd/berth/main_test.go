package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// berth runs the CLI in-process and returns its exit code and output streams.
func berth(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := berth(t, "version")
	if code != 0 || !strings.HasPrefix(out, "berth ") || !strings.Contains(out, "go: go1.") {
		t.Fatalf("version: code %d, output %q", code, out)
	}
	code, out, _ = berth(t, "version", "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["goVersion"] == "" {
		t.Fatalf("version -o json: code %d, output %q", code, out)
	}
}

func TestInventoryExampleValidates(t *testing.T) {
	code, example, _ := berth(t, "inventory", "example")
	if code != 0 {
		t.Fatal("example failed")
	}
	path := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(path, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := berth(t, "inventory", "validate", path)
	if code != 0 || !strings.Contains(out, "valid (7 hosts, 3 control planes") {
		t.Fatalf("validate example: code %d\n%s\n%s", code, out, errOut)
	}
}

func TestInventoryValidateReportsEveryProblem(t *testing.T) {
	path := "../../inventory/testdata/invalid/24-planes-overlap.yaml"
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
	for _, args := range [][]string{
		{"inventory", "validate"},
		{"version", "--no-such-flag"},
		{"version", "-o", "yaml"},
	} {
		code, _, errOut := berth(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "Error:") {
			t.Errorf("berth %v: code %d, stderr %q; want usage error", args, code, errOut)
		}
	}
	code, _, errOut := berth(t, "inventory", "validate", "/nonexistent/inv.yaml")
	if code != exitFailure || !strings.Contains(errOut, "/nonexistent/inv.yaml") {
		t.Errorf("missing file: code %d stderr %q", code, errOut)
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
