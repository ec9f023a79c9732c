package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/airgap"
)

// stagingCache makes a bundle cache of size bytes under base, last used at the given time.
func stagingCache(t *testing.T, base string, c byte, size int, used time.Time) string {
	t.Helper()
	dir := filepath.Join(base, strings.Repeat(string(c), 64))
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "packages", "containerd.deb"), make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, used, used); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCacheListAndPrune(t *testing.T) {
	// The default place is installer.DefaultCacheDir: $XDG_CACHE_HOME/berth/staging.
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	base := filepath.Join(xdg, "berth", "staging")
	now := time.Now()
	oldest := stagingCache(t, base, 'a', 3<<20, now.Add(-72*time.Hour))
	older := stagingCache(t, base, 'b', 2<<20, now.Add(-48*time.Hour))
	newest := stagingCache(t, base, 'c', 1<<20, now.Add(-time.Hour))

	code, out, errOut := berth(t, "cache", "list")
	if code != 0 || !strings.Contains(out, "3 bundles, 6.0 MiB in "+base) || strings.Index(out, "sha256:cccccc") > strings.Index(out, "sha256:aaaaaa") {
		t.Fatalf("cache list: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = berth(t, "cache", "list", "-o", "json")
	var list CacheListOutput
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Bundles) != 3 || list.Bytes != 6<<20 || list.Bundles[0].Dir != newest {
		t.Fatalf("cache list -o json: %d %v %+v", code, err, list)
	}

	code, out, _ = berth(t, "cache", "prune", "--dry-run")
	if code != 0 || !strings.Contains(out, "would remove (unnamed) sha256:aaaaaaaaaaaa (3.0 MiB") || !strings.Contains(out, "Would free 5.0 MiB in 2 bundles; 1.0 MiB left") {
		t.Fatalf("prune --dry-run: %d\n%s", code, out)
	}
	for _, d := range []string{oldest, older, newest} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("the dry run removed %s", d)
		}
	}

	code, out, _ = berth(t, "cache", "prune", "--keep", "2", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "bytesFreed: 3145728") || !strings.Contains(out, "dryRun: false") {
		t.Fatalf("prune --keep 2 -o yaml: %d\n%s", code, out)
	}
	if _, err := os.Stat(oldest); !os.IsNotExist(err) {
		t.Fatalf("prune --keep 2 left the oldest cache (%v)", err)
	}

	code, out, _ = berth(t, "cache", "prune")
	if code != 0 || !strings.Contains(out, "removed (unnamed) sha256:bbbbbbbbbbbb (2.0 MiB") || !strings.Contains(out, "kept (unnamed) sha256:cccccccccccc") ||
		!strings.Contains(out, "Freed 2.0 MiB in 1 bundle; 1.0 MiB left") {
		t.Fatalf("prune: %d\n%s", code, out)
	}
	if _, err := os.Stat(newest); err != nil {
		t.Fatalf("prune removed the bundle used last: %v", err)
	}
	code, out, _ = berth(t, "cache", "prune")
	if code != 0 || !strings.Contains(out, "Nothing to remove") {
		t.Fatalf("second prune: %d\n%s", code, out)
	}

	// --cache-dir names another cache; --keep must be 0 or more.
	other := t.TempDir()
	stagingCache(t, other, 'd', 10, now)
	if code, out, _ := berth(t, "cache", "prune", "--keep", "0", "--cache-dir", other, "-o", "json"); code != 0 {
		t.Fatalf("prune --keep 0: %d\n%s", code, out)
	} else {
		var res airgap.PruneResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Removed) != 1 || len(res.Kept) != 0 {
			t.Fatalf("prune --keep 0 -o json: %v %+v", err, res)
		}
	}
	if code, _, errOut := berth(t, "cache", "prune", "--keep", "-1"); code != exitUsage || !strings.Contains(errOut, "keep 0 or more") {
		t.Fatalf("--keep -1: %d\n%s", code, errOut)
	}
	if code, out, _ := berth(t, "cache", "list", "--cache-dir", filepath.Join(other, "none")); code != 0 || !strings.Contains(out, "No bundles in") {
		t.Fatalf("list of an empty cache: %d\n%s", code, out)
	}
}
