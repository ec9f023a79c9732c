package airgap

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/internal/registrytest"
)

func TestMirrorRef(t *testing.T) {
	for ref, want := range map[string]string{
		"registry.k8s.io/etcd:3.5.15-0":           "reg:5000/registry.k8s.io/etcd:3.5.15-0",
		"registry.k8s.io/coredns/coredns:v1.11.3": "reg:5000/registry.k8s.io/coredns/coredns:v1.11.3",
		"nginx:1.27":                                 "reg:5000/docker.io/library/nginx:1.27",
		"ghcr.io/flannel-io/flannel:v0.28.4":         "reg:5000/ghcr.io/flannel-io/flannel:v0.28.4",
		"berth.sh/dns-health@sha256:" + zeros(64):    "reg:5000/berth.sh/dns-health@sha256:" + zeros(64),
		"quay.io/ceph/ceph:v18":                      "reg:5000/quay.io/ceph/ceph:v18",
		"docker.io/library/busybox:1.36":             "reg:5000/docker.io/library/busybox:1.36",
		"registry.example:8443/team/app:2024.1-rc.1": "reg:5000/registry.example_8443/team/app:2024.1-rc.1",
	} {
		got, err := MirrorRef("reg:5000", ref)
		if err != nil || got.String() != want {
			t.Errorf("MirrorRef(%s) = %v, %v; want %s", ref, got, err, want)
		}
	}
	if _, err := MirrorRef("reg:5000", "UPPER/case:x"); err == nil {
		t.Error("an invalid reference was mapped")
	}
}

func zeros(n int) string { return strings.Repeat("0", n) }

// TestPushImages pushes a bundle's images to two real registries (the distribution registry on loopback): each
// replica then serves every reference with the bundle's digest, a second push sends no blob again, and plain
// http is refused unless the replica allows it.
func TestPushImages(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs two registries")
	}
	ctx := context.Background()
	key := bundletest.NewKey(t)
	b := bundletest.Open(t, t.TempDir(), bundletest.Spec{}, key)
	c := &Content{Bundle: b, CacheDir: t.TempDir()}
	replicas := []Replica{
		{Name: "system on reg1", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true},
		{Name: "system on reg2", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true},
	}
	images := b.Manifest.Images
	var blobBytes, manifestBytes int64
	seen := map[string]bool{}
	for _, im := range images {
		for _, d := range im.Blobs() {
			f, _ := b.Manifest.FileByPath(bundles.BlobPath(d))
			if !seen[d] {
				seen[d] = true
				blobBytes += f.Size
			}
			if d == im.Digest {
				manifestBytes += f.Size * int64(len(im.Refs))
			}
		}
	}

	first, err := PushImages(ctx, c, images, replicas)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range first {
		if res.Images != len(images) || res.Sent < blobBytes {
			t.Errorf("%s: pushed %d images, sent %d bytes; want %d images and at least their %d bytes of blobs",
				res.Replica, res.Images, res.Sent, len(images), blobBytes)
		}
		for _, im := range images {
			for _, ref := range im.Refs {
				dst, _ := MirrorRef(replicas[i].Addr, ref, name.Insecure)
				img, err := remote.Image(dst, remote.WithContext(ctx))
				if err != nil {
					t.Fatalf("%s: pull %s: %v", res.Replica, dst, err)
				}
				d, _ := img.Digest()
				layers, _ := img.Layers()
				if d.String() != im.Digest || len(layers) != len(im.Layers) {
					t.Errorf("%s serves %s as %s with %d layers, the bundle has %s with %d", res.Replica, dst, d, len(layers), im.Digest, len(im.Layers))
				}
			}
		}
	}

	again, err := PushImages(ctx, c, images, replicas)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range again {
		t.Logf("%s: %d images, %d bytes of blobs; first push sent %d bytes, the second %d", res.Replica, res.Images, blobBytes, first[i].Sent, res.Sent)
		if res.Sent > manifestBytes {
			t.Errorf("%s: a second push sent %d bytes; nothing but manifests (%d bytes) may go again", res.Replica, res.Sent, manifestBytes)
		}
	}

	tls := []Replica{{Name: "system on reg1", Addr: replicas[0].Addr}}
	if _, err := PushImages(ctx, c, images, tls); err == nil || !strings.Contains(err.Error(), "TLS only") {
		t.Errorf("push over plain http to a replica that speaks TLS: %v", err)
	}
}
