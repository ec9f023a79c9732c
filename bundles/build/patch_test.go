package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
)

// TestBuildWithBaseWritesPatch builds a spec of plain files in full, then a changed spec against it with
// Options.Base: the patch's manifest is the full release's (plus its base), and the file carries only the
// changed file.
func TestBuildWithBaseWritesPatch(t *testing.T) {
	requireTools(t, "go")
	ctx := context.Background()
	dir := t.TempDir()
	key := bundletest.NewKey(t)
	spec := func(name, notes string) string {
		for file, body := range map[string]string{"tool.sh": "#!/bin/sh\necho tool\n", "notes-" + name + ".txt": notes} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, name+".yaml")
		body := "apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleSpec\nname: t\nversion: " + name + "\nsources:\n" +
			"  - name: tool\n    file: {path: tool.sh, to: bin/tool, mode: \"0755\"}\n" +
			"  - name: notes\n    file: {path: notes-" + name + ".txt, to: files/notes.txt}\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cache := filepath.Join(dir, "cache")
	oldPath := filepath.Join(dir, "v1.tar")
	if _, err := New(Options{Spec: spec("v1", "first notes"), Output: oldPath, SignKey: key.Private, CacheDir: cache}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := bundles.Open(ctx, oldPath, key.Verify())
	if err != nil {
		t.Fatal(err)
	}
	v2 := spec("v2", "second notes")
	full, err := New(Options{Spec: v2, Output: filepath.Join(dir, "v2.tar"), SignKey: key.Private, CacheDir: cache}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	patchPath := filepath.Join(dir, "v2-patch.tar")
	patch, err := New(Options{Spec: v2, Output: patchPath, SignKey: key.Private, CacheDir: cache, Base: old}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if patch.Manifest.Base == nil || *patch.Manifest.Base != old.AsBase() {
		t.Fatalf("patch names base %v, want %v", patch.Manifest.Base, old.AsBase())
	}
	sameContent(t, full.Manifest, patch.Manifest)
	opts := key.Verify()
	opts.Base = oldPath
	res, err := bundles.Verify(ctx, patchPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || res.FromBase != 1 || res.ManifestDigest != patch.ManifestDigest {
		t.Fatalf("patch verified with %d files of its own and %d from the base, manifest %s (built %s)",
			res.Files, res.FromBase, res.ManifestDigest, patch.ManifestDigest)
	}
	b, err := bundles.Open(ctx, patchPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := b.Extract(ctx, out, bundles.Filter{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"bin/tool": "echo tool", "files/notes.txt": "second notes"} {
		if data, err := os.ReadFile(filepath.Join(out, p)); err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s from the patch: %q, %v", p, data, err)
		}
	}
}
