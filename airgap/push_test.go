package airgap

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/internal/pki"
	"github.com/berthsh/berth/internal/registrytest"
	"github.com/berthsh/berth/manifests"
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
	var blobBytes int64
	seen := map[string]bool{}
	for _, im := range images {
		for _, d := range im.Blobs() {
			f, _ := b.Manifest.FileByPath(bundles.BlobPath(d))
			if !seen[d] {
				seen[d] = true
				blobBytes += f.Size
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
		if res.Sent != 0 || res.Pushed != 0 {
			t.Errorf("%s: a second push pushed %d references and sent %d bytes; a replica that serves them all gets only reads", res.Replica, res.Pushed, res.Sent)
		}
	}

	tls := []Replica{{Name: "system on reg1", Addr: replicas[0].Addr}}
	if _, err := PushImages(ctx, c, images, tls); err == nil || !strings.Contains(err.Error(), "TLS only") {
		t.Errorf("push over plain http to a replica that speaks TLS: %v", err)
	}
}

// TestPushPatchWithoutBase pushes the images of a patch bundle opened without its base. A replica that holds the
// base's images receives the new ones, with only the blobs the base did not have, and then serves every image of
// the new release; an empty replica is refused with the base to pass.
func TestPushPatchWithoutBase(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs two registries")
	}
	ctx := context.Background()
	oldB, newB, patch := patchWithoutBase(t)
	holding := Replica{Name: "system on reg1", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true}
	if _, err := PushImages(ctx, &Content{Bundle: oldB, CacheDir: t.TempDir()}, oldB.Manifest.Images, []Replica{holding}); err != nil {
		t.Fatal(err)
	}
	res, err := PushImages(ctx, &Content{Bundle: patch, CacheDir: t.TempDir()}, patch.Manifest.Images, []Replica{holding})
	if err != nil {
		t.Fatalf("push the patch to a replica that holds the base: %v", err)
	}
	var carried int64
	for _, f := range patch.Manifest.Files {
		if f.Kind == bundles.KindImageBlob && patch.Holds(f.Path) {
			carried += f.Size
		}
	}
	if res[0].Pushed == 0 || res[0].Sent > carried+64<<10 {
		t.Errorf("patch push: %d references pushed, %d bytes sent; want some, and no more than the patch's %d bytes of blobs (plus requests)", res[0].Pushed, res[0].Sent, carried)
	}
	if lacking, err := ReplicaLacks(ctx, newB.Manifest.Images, holding); err != nil || len(lacking) > 0 {
		t.Errorf("after the patch push the replica does not serve the new release: %v %v", lacking, err)
	}
	empty := Replica{Name: "system on reg2", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true}
	if _, err := PushImages(ctx, &Content{Bundle: patch, CacheDir: t.TempDir()}, patch.Manifest.Images, []Replica{empty}); err == nil || !strings.Contains(err.Error(), "--base") {
		t.Errorf("push of a patch without its base to an empty replica: %v; want a refusal naming --base", err)
	}
}

// TestPushToBerthRegistry runs the System registry the way berth configures it (manifests.RegistryConfig), two
// listeners of the real registry on one storage: a read-only one where every client pulls, a writable one on
// loopback that berth pushes through; both speak TLS with a certificate of the registry CA (internal/pki).
// Pushed through the writable listener, every image is served by the read-only one with the bundle's digest; a
// push to the read-only listener is refused, and a client that does not trust the registry CA gets nothing.
func TestPushToBerthRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs two registries")
	}
	ctx := context.Background()
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "state"), "registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.Leaf{Name: "registry system", IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if os.WriteFile(certFile, certPEM, 0o644) != nil || os.WriteFile(keyFile, keyPEM, 0o600) != nil {
		t.Fatal("write the certificate")
	}
	trusting := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}
	root := filepath.Join(dir, "data")
	listener := func(readOnly bool) string {
		return registrytest.Start(t, registrytest.Options{Client: &http.Client{Transport: trusting}, Config: func(addr string) []byte {
			cfg, err := manifests.RegistryConfig(manifests.RegistryListener{Name: "system", Addr: addr, Root: root, CertFile: certFile,
				KeyFile: keyFile, ReadOnly: readOnly, Secret: strings.Repeat("s3cret", 6)})
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}})
	}
	public, push := listener(true), listener(false)

	key := bundletest.NewKey(t)
	b := bundletest.Open(t, t.TempDir(), bundletest.Spec{}, key)
	c := &Content{Bundle: b, CacheDir: t.TempDir()}
	images := b.Manifest.Images
	if _, err := PushImages(ctx, c, images, []Replica{{Name: "system push listener", Addr: push, Transport: trusting}}); err != nil {
		t.Fatal(err)
	}
	// What berth pushed is there for every client of the read-only listener.
	for _, im := range images {
		dst, _ := MirrorRef(public, im.Refs[0])
		d, err := remote.Head(dst, remote.WithContext(ctx), remote.WithTransport(trusting))
		if err != nil || d.Digest.String() != im.Digest {
			t.Errorf("read-only listener serves %s as %v (%v), the bundle has %s", dst, d, err, im.Digest)
		}
	}
	// An image the registry does not have: the read-only listener refuses it, the push listener takes it.
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	for addr, wantOK := range map[string]bool{public: false, push: true} {
		dst, _ := MirrorRef(addr, "registry.bank.example/payments/api:1.0")
		err := remote.Write(dst, img, remote.WithContext(ctx), remote.WithTransport(trusting))
		if (err == nil) != wantOK {
			t.Errorf("push of a new image to %s (read-only %v): %v", addr, !wantOK, err)
		}
	}
	stranger := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if _, err := PushImages(ctx, c, images, []Replica{{Name: "system", Addr: push, Transport: stranger}}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the registry CA: %v", err)
	}
}
