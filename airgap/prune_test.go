package airgap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles/bundletest"
)

// fakeCache makes base/<hex> holding size bytes, last used at t.
func fakeCache(t *testing.T, base string, c byte, size int, at time.Time) string {
	t.Helper()
	dir := filepath.Join(base, strings.Repeat(string(c), 64))
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "kubeadm"), make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, at, at); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPruneCachesKeepsTheMostRecentlyUsed(t *testing.T) {
	base := t.TempDir()
	now := time.Now()
	old := fakeCache(t, base, 'a', 300, now.Add(-48*time.Hour))
	newest := fakeCache(t, base, 'b', 100, now.Add(-time.Hour))
	middle := fakeCache(t, base, 'c', 200, now.Add(-24*time.Hour))
	// Not caches: never listed, never removed.
	for _, p := range []string{"notes", "sha256"} {
		if err := os.MkdirAll(filepath.Join(base, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	list, err := ListCaches(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Dir != newest || list[1].Dir != middle || list[2].Dir != old {
		t.Fatalf("list = %+v, want newest, middle, old", list)
	}
	if list[0].Bytes != 100 || list[0].Digest != "sha256:"+strings.Repeat("b", 64) {
		t.Errorf("newest = %+v", list[0])
	}

	dry, err := PruneCaches(base, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Removed) != 2 || dry.BytesFreed != 500 || dry.BytesAfter != 100 {
		t.Fatalf("dry run = %+v", dry)
	}
	for _, d := range []string{old, middle, newest} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("the dry run removed %s", d)
		}
	}

	res, err := PruneCaches(base, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 1 || res.Kept[0].Dir != newest || len(res.Removed) != 2 || res.BytesFreed != 500 {
		t.Fatalf("prune = %+v", res)
	}
	for _, d := range []string{old, middle} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", d, err)
		}
	}
	for _, d := range []string{newest, filepath.Join(base, "notes"), filepath.Join(base, "sha256")} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}

	if _, err := PruneCaches(base, -1, false); err == nil {
		t.Error("keep -1 accepted")
	}
	if l, err := ListCaches(filepath.Join(base, "missing")); err != nil || len(l) != 0 {
		t.Errorf("a missing cache directory: %v %v", l, err)
	}
}

// TestPrepareCacheMarksItUsed: reusing a bundle's cache makes it the most recently used, so prune keeps the bundle
// installed last, not the one extracted last.
func TestPrepareCacheMarksItUsed(t *testing.T) {
	ctx := context.Background()
	key := bundletest.NewKey(t)
	base := t.TempDir()
	a := bundletest.Open(t, t.TempDir(), bundletest.Spec{}, key)
	b := bundletest.Open(t, t.TempDir(), bundletest.Spec{KubernetesVersion: "v1.32.5"}, key)
	ca, err := PrepareCache(ctx, a, base)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := PrepareCache(ctx, b, base)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_ = os.Chtimes(ca.Dir, now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	_ = os.Chtimes(cb.Dir, now.Add(-time.Hour), now.Add(-time.Hour))
	if _, err := PrepareCache(ctx, a, base); err != nil {
		t.Fatal(err)
	}
	res, err := PruneCaches(base, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 1 || res.Kept[0].Digest != a.ManifestDigest || len(res.Removed) != 1 || res.Removed[0].Digest != b.ManifestDigest {
		t.Fatalf("kept %+v removed %+v; want the bundle used last (%s) kept", res.Kept, res.Removed, a.ManifestDigest)
	}
	if res.Kept[0].Bytes == 0 {
		t.Error("the kept cache measures 0 bytes")
	}
	if l := res.Kept[0].Bundle; l == nil || l.KubernetesVersion != "v1.31.4" || l.Version != a.Manifest.Version {
		t.Errorf("the kept cache's label = %+v, want bundle %s", l, a.Manifest.Version)
	}
}
