package bundles

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// patchFixtures returns a base fixture and a release made from it whose content partly moved: a file with the
// content of one of the base's packages at a path that sorts before everything, and one new content at two paths.
func patchFixtures(t *testing.T) (base, release *fixture) {
	base = newFixture(t)
	release = newFixture(t)
	release.pub, release.priv = base.pub, base.priv
	release.manifest.Version = "v2"
	release.add("a/moved.deb", base.content["packages/debian-12/socat_1.7_amd64.deb"], KindFile)
	release.add("files/new-1.txt", []byte("new content"), KindFile)
	release.add("files/new-2.txt", []byte("new content"), KindFile)
	release.finish(t)
	return base, release
}

// TestPatchReadsMovedAndRepeatedContent: content the base holds at another path is not carried, new content at
// two paths is carried once, and the reader still hands out every file in manifest order.
func TestPatchReadsMovedAndRepeatedContent(t *testing.T) {
	ctx := context.Background()
	base, release := patchFixtures(t)
	b, err := Open(ctx, base.write(t, base.priv), base.opts())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, release.write(t, release.priv), release.opts())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "patch.tar")
	if err := WritePatch(ctx, out, b, r, WriteOptions{SignKey: base.priv}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range readEntries(t, out) {
		names = append(names, e.hdr.Name)
	}
	if strings.Join(names, ",") != ManifestPath+","+SignaturePath+",files/new-1.txt" {
		t.Fatalf("patch holds %v, want only files/new-1.txt after the manifest and signature", names)
	}
	p, err := OpenPatch(ctx, out, b.Path, base.opts())
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	err = p.Walk(ctx, Filter{}, func(f File, rd io.Reader) error {
		data, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, release.content[f.Path]) {
			t.Errorf("%s: content differs from the release", f.Path)
		}
		walked = append(walked, f.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(walked) != len(release.manifest.Files) || walked[0] != "a/moved.deb" {
		t.Fatalf("walked %v", walked)
	}
}

// TestWriteRefusesInconsistentPatch: the manifest and the base given must agree, and a base is a full bundle.
func TestWriteRefusesInconsistentPatch(t *testing.T) {
	ctx := context.Background()
	base, release := patchFixtures(t)
	b, err := Open(ctx, base.write(t, base.priv), base.opts())
	if err != nil {
		t.Fatal(err)
	}
	open := func(f File) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(release.content[f.Path])), nil
	}
	out := filepath.Join(t.TempDir(), "patch.tar")
	if err := Write(ctx, out, release.manifest, open, WriteOptions{Base: b}); err == nil || !strings.Contains(err.Error(), "must name its base") {
		t.Errorf("a base without the manifest naming it: %v", err)
	}
	named := *release.manifest
	ref := b.AsBase()
	named.Base = &ref
	if err := Write(ctx, out, &named, open, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "no base bundle was given") {
		t.Errorf("a manifest naming a base without the base: %v", err)
	}
	patched := *b
	patched.Manifest = &named
	if err := Write(ctx, out, &named, open, WriteOptions{Base: &patched}); err == nil || !strings.Contains(err.Error(), "itself a patch") {
		t.Errorf("a patch as the base: %v", err)
	}
}

// TestVerifyRefusesMisshapenPatch: a patch carrying what its base holds, or missing what it must carry, and a
// full bundle whose entries are out of order, are refused naming the file.
func TestVerifyRefusesMisshapenPatch(t *testing.T) {
	ctx := context.Background()
	base, release := patchFixtures(t)
	basePath := base.write(t, base.priv)
	b, err := Open(ctx, basePath, base.opts())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, release.write(t, release.priv), release.opts())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "patch.tar")
	if err := WritePatch(ctx, out, b, r, WriteOptions{SignKey: base.priv}); err != nil {
		t.Fatal(err)
	}
	patch := readEntries(t, out)
	opts := base.opts()
	opts.Base = basePath
	extra := append(append([]entry{}, patch...), entry{hdr: patch[2].hdr, data: release.content["files/notes.txt"]})
	extra[3].hdr.Name = "files/notes.txt"
	full := readEntries(t, basePath)
	full[2], full[3] = full[3], full[2]
	for _, tc := range []struct {
		name    string
		bundle  string
		opts    VerifyOptions
		file    string
		problem string
	}{
		{"carries what the base holds", writeEntries(t, extra), opts, "files/notes.txt", "although its base"},
		{"lacks what it must carry", writeEntries(t, patch[:2]), opts, "files/new-1.txt", "the patch must carry it"},
		{"entries out of order", writeEntries(t, full), base.opts(), full[3].hdr.Name, "out of order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(ctx, tc.bundle, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.file+": ") || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("err = %v, want %s: ...%s", err, tc.file, tc.problem)
			}
		})
	}
}
