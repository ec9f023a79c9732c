package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unreachableInventory writes an inventory whose one host refuses SSH at once (port 1 on loopback).
func unreachableInventory(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	inv := `apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: insecure, environment: dev}
ssh: {user: root, port: 1, identityFiles: [id], knownHosts: known_hosts, connectTimeout: 2s}
networkPlanes:
  management: {cidr: 127.0.0.0/24}
hosts:
  - name: cp1
    address: 127.0.0.2
    roles: [control-plane]
    nics: {management: {interface: lo, address: 127.0.0.2}}
controlPlane: {vip: 127.0.0.100}
storage: {localPath: {enabled: false}} # the test bundle carries no images
`
	for name, data := range map[string]string{"inventory.yaml": inv, "known_hosts": "", "id": "not a key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "inventory.yaml")
}

// TestInsecureSkipSignatureAlwaysWarns: --insecure-skip-signature turns off the one check that says who built
// the bundle. install said nothing about it at the default verbosity; now install and bundle verify print the
// warning on stderr at every verbosity, and bundle verify's JSON carries it.
func TestInsecureSkipSignatureAlwaysWarns(t *testing.T) {
	t.Setenv("BERTH_BUNDLE_KEY", "")
	t.Setenv("HOME", t.TempDir()) // install's caches and state stay in the test
	unsigned := writeTestBundle(t, "", "v1.31.4", map[string]string{"bin/kubeadm": "kubeadm 1.31"})
	inv := unreachableInventory(t)
	state := t.TempDir()
	for _, verbosity := range []string{"0", "1"} {
		t.Run("install -v "+verbosity, func(t *testing.T) {
			code, _, errOut := berth(t, "install", "-i", inv, "-b", unsigned, "--insecure-skip-signature", "--yes",
				"--state-dir", state, "-v", verbosity)
			if code == 0 {
				t.Fatalf("install on an unreachable host succeeded:\n%s", errOut)
			}
			if !strings.Contains(errOut, "WARNING: --insecure-skip-signature") || !strings.Contains(errOut, "NOT enforced") {
				t.Errorf("stderr lacks the warning:\n%s", errOut)
			}
		})
	}
	t.Run("verify -o json", func(t *testing.T) {
		code, out, errOut := berth(t, "bundle", "verify", unsigned, "--insecure-skip-signature", "-o", "json", "-v", "0")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var res struct {
			Warnings []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "--insecure-skip-signature") {
			t.Errorf("JSON warnings = %q (%v):\n%s", res.Warnings, err, out)
		}
		if !strings.Contains(errOut, "NOT enforced") {
			t.Errorf("stderr lacks the warning:\n%s", errOut)
		}
	})
}
