package bundletest

import (
	"testing"
)

// The bundles this package writes verify, and open with the lab bundle's image names.
func TestWriteOpens(t *testing.T) {
	key := NewKey(t)
	b := Open(t, t.TempDir(), Spec{KubernetesVersion: "v1.32.5", EtcdVersion: "3.5.16-0"}, key)
	if b.Manifest.KubernetesVersion != "v1.32.5" || len(b.Manifest.Images) != 12 || len(b.Manifest.Packages) != 5 {
		t.Fatalf("manifest: %s, %d images, %d packages", b.Manifest.KubernetesVersion, len(b.Manifest.Images), len(b.Manifest.Packages))
	}
	found := false
	for _, im := range b.Manifest.Images {
		if im.Refs[0] == "registry.k8s.io/etcd:3.5.16-0" {
			found = true
		}
	}
	if !found {
		t.Fatal("no etcd image at the asked version")
	}
}
