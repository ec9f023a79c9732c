package build

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/registrytest"
)

// TestOCISourceFromRegistry pushes a multi-platform index and a plain image to a real registry on loopback, then
// builds a bundle whose oci sources pull them: the target platform's image must arrive byte for byte, tagged as the
// spec says, and verify.
func TestOCISourceFromRegistry(t *testing.T) {
	slow(t, "builds and runs a registry")
	addr := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()

	amd64, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	arm64, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	multiRef, _ := name.ParseReference(addr + "/upstream/multi:v1")
	if err := remote.WriteIndex(multiRef, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	plain, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	plainRef, _ := name.ParseReference(addr + "/upstream/plain:v2")
	if err := remote.Write(plainRef, plain, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	amdDigest, _ := amd64.Digest()
	plainDigest, _ := plain.Digest()
	idxDigest, _ := idx.Digest()

	dir := t.TempDir()
	spec := fmt.Sprintf(`apiVersion: bundle.berth.sh/v1alpha1
kind: BundleSpec
name: oci
version: v1
sources:
  - name: multi
    oci: {ref: "%s/upstream/multi:v1", tags: [registry.example/multi:v1]}
  - name: pinned
    oci: {ref: "%s/upstream/multi@%s", tags: [registry.example/multi:pinned]}
  - name: plain
    oci: {ref: "%s/upstream/plain:v2"}
`, addr, addr, idxDigest, addr)
	specPath := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := bundles.GenerateKey()
	out := filepath.Join(dir, "oci.tar")
	res, err := New(Options{Spec: specPath, Output: out, SignKey: priv, CacheDir: filepath.Join(dir, "cache"), Logger: testLogger(t)}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundles.Verify(ctx, out, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}}); err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	for ref, want := range map[string]v1.Hash{
		"registry.example/multi:v1":     amdDigest,
		"registry.example/multi:pinned": amdDigest,
		addr + "/upstream/plain:v2":     plainDigest,
	} {
		im, ok := m.Image(ref)
		if !ok {
			t.Errorf("bundle lacks %s; images %+v", ref, m.Images)
			continue
		}
		if im.Digest != want.String() {
			t.Errorf("%s has digest %s, the registry's linux/amd64 image is %s", ref, im.Digest, want)
		}
		layers, _ := map[string]v1.Image{amdDigest.String(): amd64, plainDigest.String(): plain}[want.String()].Layers()
		if len(im.Layers) != len(layers) {
			t.Errorf("%s: %d layers, want %d", ref, len(im.Layers), len(layers))
		}
	}
	for _, c := range m.Components {
		if c.Name == "multi" && !strings.Contains(c.Source, amdDigest.String()) {
			t.Errorf("component %+v does not record the pulled digest", c)
		}
	}
	// Blobs are shared: the two multi refs are one image, stored once.
	if a, _ := m.Image("registry.example/multi:v1"); a.Digest == "" {
		t.Fatal("no multi image")
	}
	blobs := 0
	for _, f := range m.Files {
		if f.Kind == bundles.KindImageBlob {
			blobs++
		}
	}
	// multi (= pinned): manifest, config, 2 layers; plain: manifest, config, 1 layer.
	if blobs != 7 {
		t.Errorf("%d blobs in the layout, want 7 (the pinned and tagged multi share every blob)", blobs)
	}
}
