package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withLocalFiles writes an inventory into a new directory with the files it names (keys, known_hosts, secrets),
// each 0600, so that `inventory validate` finds them all; it returns the inventory's path.
func withLocalFiles(t *testing.T, name string, inv []byte, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, inv, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// overlapInventory is the broken inventory with four problems of its own, next to the key and known_hosts it names.
func overlapInventory(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../inventory/testdata/invalid/24-planes-overlap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return withLocalFiles(t, "24-planes-overlap.yaml", data, "id_ed25519", "known_hosts")
}

// TestInventoryValidateChecksLocalFiles: validate names each missing file with the field that names it, and exits 1.
func TestInventoryValidateChecksLocalFiles(t *testing.T) {
	data, err := os.ReadFile("../../inventory/testdata/invalid/24-planes-overlap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := withLocalFiles(t, "inv.yaml", data, "known_hosts")
	code, _, errOut := berth(t, "inventory", "validate", path)
	key := filepath.Join(filepath.Dir(path), "id_ed25519")
	if code != exitFailure || !strings.Contains(errOut, "inv.yaml:8:19: ssh.identityFiles[0]: key "+key+" does not exist") ||
		!strings.Contains(errOut, "fix: create the key (ssh-keygen -t ed25519 -f "+key+")") || strings.Contains(errOut, "known_hosts does not exist") {
		t.Errorf("code %d\n%s", code, errOut)
	}
}
