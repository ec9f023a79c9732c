package airgap

import (
	"context"
	"os"
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
