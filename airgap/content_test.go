package airgap

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
)

// TestStagedContent: a node is staged its image set blob by blob, each blob once however many images share it,
// with the set's index; FilesFor (from the cache) and Needs (from the manifest) list the same content; and between
// two releases only what the newer one adds is new content to a node that holds the older.
func TestStagedContent(t *testing.T) {
	ctx := context.Background()
	key := bundletest.NewKey(t)
	dir := t.TempDir()
	oldB := bundletest.Open(t, dir, bundletest.Spec{}, key)
	newB := bundletest.Open(t, dir, bundletest.Spec{KubernetesVersion: "v1.32.5"}, key)

	for _, n := range []Node{{Name: "cp1", ControlPlane: true}, {Name: "w1"}} {
		c := &Content{Bundle: oldB, CacheDir: t.TempDir()}
		cache, err := c.Cache(ctx)
		if err != nil {
			t.Fatal(err)
		}
		files := c.FilesFor(cache, n)
		needs, err := c.Needs(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(needs) {
			t.Errorf("%s: FilesFor lists %d files, Needs %d: some content is listed twice or only by one", n.Name, len(files), len(needs))
		}
		for _, f := range files {
			if needs[f.SHA256] != f.Size {
				t.Errorf("%s: %s staged with %d bytes, Needs says %d", n.Name, f.Remote, f.Size, needs[f.SHA256])
			}
			if f.Remote != StagePath(f.SHA256) {
				t.Errorf("%s: %s is not staged by its content", n.Name, f.Remote)
			}
			st, err := os.Stat(f.Local)
			if err != nil || st.Size() != f.Size {
				t.Errorf("%s: the cache lacks %s (%v)", n.Name, f.Local, err)
			}
		}
		set := c.SetFor(n)
		var blobs int
		shared := set.Images[0].Layers[0] // bundletest's images share their base layer
		for _, d := range set.Blobs() {
			if d == shared {
				blobs++
			}
		}
		if blobs != 1 {
			t.Errorf("%s: the shared base layer is listed %d times in the set's blobs, want once", n.Name, blobs)
		}
		ix, ok := cache.Indexes[set.Name]
		if !ok || needs[ix.SHA256] != ix.Size {
			t.Errorf("%s: the set's index %+v is not among what the node needs", n.Name, ix)
		}
		if n.ControlPlane && len(set.Images) != len(oldB.Manifest.Images) {
			t.Errorf("a control plane's set has %d images, want all %d", len(set.Images), len(oldB.Manifest.Images))
		}
	}

	// 1.31 -> 1.32: the Kubernetes binaries and images change; packages, CNI plugins, etcd, CoreDNS, pause and
	// the shared base layer do not, and are not new to a node that holds 1.31.
	w := Node{Name: "w1"}
	had, _ := (&Content{Bundle: oldB}).Needs(w)
	needs, _ := (&Content{Bundle: newB}).Needs(w)
	unchanged := map[string]bool{}
	for _, f := range FilesOf(newB.Manifest, bundles.KindPackage, bundles.KindCNI) {
		unchanged[f.SHA256] = true
	}
	pause, _ := newB.Manifest.Image("registry.k8s.io/pause:3.10")
	for _, d := range pause.Blobs() {
		unchanged[d[len("sha256:"):]] = true
	}
	var fresh int
	for sum := range needs {
		_, old := had[sum]
		if unchanged[sum] && !old {
			t.Errorf("content %s that 1.31 and 1.32 share counts as new", sum)
		}
		if !old {
			fresh++
		}
	}
	if fresh == 0 || fresh == len(needs) {
		t.Errorf("%d of %d pieces of 1.32 content are new to a worker on 1.31: want some, not all", fresh, len(needs))
	}
}

// TestPatchWithoutBaseContent: a patch opened without its base is extracted here only for what it carries; every
// other file a node needs is listed with no local source, and a node that lacks such a file is named with the
// file, how much it lacks and the base to pass with --base.
func TestPatchWithoutBaseContent(t *testing.T) {
	ctx := context.Background()
	oldB, _, patch := patchWithoutBase(t)
	c := &Content{Bundle: patch, CacheDir: t.TempDir()}
	cache, err := c.Cache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := Node{Name: "w1"}
	var held, notHeld []Staged
	for _, f := range c.FilesFor(cache, w) {
		_, statErr := os.Stat(cache.Dir + "/" + f.Path)
		switch {
		case f.Path == "": // the set's index, written here
		case patch.Holds(f.Path):
			held = append(held, f)
			if f.Local == "" || statErr != nil {
				t.Errorf("%s is carried by the patch but not in the cache (%v)", f.Path, statErr)
			}
		default:
			notHeld = append(notHeld, f)
			if f.Local != "" || statErr == nil {
				t.Errorf("%s is the base's, yet has a local source %q (%v)", f.Path, f.Local, statErr)
			}
		}
	}
	if len(held) == 0 || len(notHeld) == 0 {
		t.Fatalf("a worker needs %d files the patch carries and %d from the base: want some of each", len(held), len(notHeld))
	}

	// A node that holds all but one of the base's files is named with that file; one that holds them all is not.
	have := map[string]string{}
	for _, f := range notHeld {
		have[f.Remote] = f.SHA256
	}
	gone := notHeld[0]
	lack := &LackingError{Bundle: patch, Hosts: map[string][]Staged{}}
	lack.add("w2", notHeld, have)
	delete(have, gone.Remote)
	lack.add("w1", notHeld, have)
	if err := lack.orNil(); err == nil || len(lack.Hosts) != 1 || len(lack.Hosts["w1"]) != 1 {
		t.Fatalf("lacking: %v (%v)", lack.Hosts, err)
	}
	msg := lack.Error()
	for _, want := range []string{"w1 lacks 1 files", gone.Path, "--base", oldB.ManifestDigest} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}
}

// patchWithoutBase returns a 1.31 test bundle, its 1.32 successor and the patch from one to the other, opened
// without its base.
func patchWithoutBase(t *testing.T) (oldB, newB, patch *bundles.Bundle) {
	t.Helper()
	ctx := context.Background()
	key := bundletest.NewKey(t)
	dir := t.TempDir()
	oldB = bundletest.Open(t, dir, bundletest.Spec{}, key)
	newB = bundletest.Open(t, dir, bundletest.Spec{KubernetesVersion: "v1.32.5"}, key)
	patchPath := dir + "/patch.tar"
	if err := bundles.WritePatch(ctx, patchPath, oldB, newB, bundles.WriteOptions{SignKey: key.Private}); err != nil {
		t.Fatal(err)
	}
	opts := key.Verify()
	opts.WithoutBase = true
	patch, err := bundles.Open(ctx, patchPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	return oldB, newB, patch
}

// TestPackageClosure: a package brings the bundle's packages it depends on, through alternatives (the first the
// bundle has) and transitively, and nothing the base system provides; a name the bundle lacks, or a bundle without
// recorded dependencies, is refused.
func TestPackageClosure(t *testing.T) {
	m := &bundles.Manifest{Name: "lab", Version: "v1", Packages: []bundles.Package{
		{Name: "keepalived", Depends: []string{"iproute2", "libnl-3-200", "libc6", "awk|mawk"}},
		{Name: "libnl-3-200", Depends: []string{"libc6"}},
		{Name: "mawk", Depends: []string{"libc6"}},
		{Name: "containerd", Depends: []string{"runc"}},
		{Name: "runc"},
	}}
	got, err := PackageClosure(m, "keepalived")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, " ") != "keepalived libnl-3-200 mawk" {
		t.Errorf("closure of keepalived: %v", names)
	}
	if _, err := PackageClosure(m, "haproxy"); err == nil || !strings.Contains(err.Error(), "no package haproxy") {
		t.Errorf("a package the bundle lacks: %v", err)
	}
	old := &bundles.Manifest{Name: "lab", Version: "v0", Packages: []bundles.Package{{Name: "keepalived"}}}
	if _, err := PackageClosure(old, "keepalived"); err == nil || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("a bundle without dependencies: %v", err)
	}
}
