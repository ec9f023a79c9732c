package airgap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/bcrypt"

	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/internal/registrytest"
)

// TestOpenArchive reads the two kinds of archive an image crosses the gap in: a docker archive with an image under
// two names, and an OCI layout whose images carry full names. A layout named with bare tags, a directory that is no
// layout and a file that is no archive are refused, saying what to do.
func TestOpenArchive(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	docker := filepath.Join(dir, "app.tar")
	a1, _ := name.NewTag("registry.example/payments/api:2.4.1")
	a2, _ := name.NewTag("docker.io/payments/api:latest")
	if err := tarball.MultiRefWriteToFile(docker, map[name.Reference]v1.Image{a1: img, a2: img}); err != nil {
		t.Fatal(err)
	}
	a, err := OpenArchive(docker)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Images) != 1 || len(a.Images[0].Refs) != 2 || a.Images[0].Digest != digest.String() {
		t.Errorf("docker archive read as %+v; want one image %s under two names", a.Images, digest)
	}

	oci := filepath.Join(dir, "oci")
	lp, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: "quay.io/team/tool:1.0"})); err != nil {
		t.Fatal(err)
	}
	a, err = OpenArchive(oci)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Images) != 1 || a.Images[0].Refs[0] != "quay.io/team/tool:1.0" {
		t.Errorf("OCI layout read as %+v", a.Images)
	}

	bare := filepath.Join(dir, "bare")
	lp, _ = layout.Write(bare, empty.Index)
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: "1.0"})); err != nil {
		t.Fatal(err)
	}
	notLayout := filepath.Join(dir, "plain")
	os.Mkdir(notLayout, 0o755)
	garbage := filepath.Join(dir, "garbage.tar")
	os.WriteFile(garbage, []byte("not a tar"), 0o644)
	for path, want := range map[string]string{bare: "full reference", notLayout: "oci-layout", garbage: "not a docker archive"} {
		if _, err := OpenArchive(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenArchive(%s) = %v; want an error saying %q", filepath.Base(path), err, want)
		}
	}
}

// TestPushArchiveWithCredentials pushes an archive into a real registry that asks for credentials, as a User
// registry's push listener does: without them the push is refused, with them every name is served with the
// archive's digest, and a second push sends nothing.
func TestPushArchiveWithCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs a registry")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-for-the-test"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("push:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := registrytest.Start(t, registrytest.Options{Config: func(addr string) []byte {
		return fmt.Appendf(nil, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nauth:\n  htpasswd:\n    realm: test\n    path: %s\n",
			filepath.Join(dir, "data"), addr, htpasswd)
	}})
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("docker.io/payments/api:2.4.1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	a, err := OpenArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	anonymous := Replica{Name: "user on reg1", Addr: addr, PlainHTTP: true}
	if _, err := PushArchive(ctx, a, []Replica{anonymous}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a push without credentials: %v; want it refused as unauthorized", err)
	}
	withCreds := anonymous
	withCreds.Auth = authn.FromConfig(authn.AuthConfig{Username: "push", Password: "s3cret-for-the-test"})
	first, err := PushArchive(ctx, a, []Replica{withCreds})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Pushed != 1 || first[0].Sent < 2048*2 {
		t.Errorf("first push: %+v", first[0])
	}
	again, err := PushArchive(ctx, a, []Replica{withCreds})
	if err != nil || again[0].Pushed != 0 || again[0].Sent != 0 {
		t.Errorf("second push: %+v, %v; want nothing sent", again, err)
	}
}

// FuzzOpenArchive reads arbitrary files as image archives: nothing panics, and an archive that opens names each of
// its images with a valid reference and a digest.
func FuzzOpenArchive(f *testing.F) {
	img, err := random.Image(64, 1)
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.tar")
	tag, _ := name.NewTag("docker.io/payments/api:1")
	if err := tarball.WriteToFile(seed, tag, img); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(seed)
	f.Add(data)
	f.Add([]byte("not an archive"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "a.tar")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := OpenArchive(p)
		if err != nil {
			return
		}
		for _, im := range a.Images {
			if im.Digest == "" || len(im.Refs) == 0 {
				t.Fatalf("image without digest or name: %+v", im)
			}
			for _, r := range im.Refs {
				if _, err := name.ParseReference(r, name.StrictValidation); err != nil {
					t.Fatalf("image named %q: %v", r, err)
				}
			}
		}
	})
}

// TestCopyImages copies images from one real registry to two others, as berth registry sync does: ReplicaRefs
// lists what the source keeps under the upstreams' names, every named image arrives on both destinations with the
// source's digest, a second copy sends nothing, and a name the source does not serve is refused, naming it.
func TestCopyImages(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs three registries")
	}
	ctx := context.Background()
	key := bundletest.NewKey(t)
	b := bundletest.Open(t, t.TempDir(), bundletest.Spec{}, key)
	src := Replica{Name: "system on reg1", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true}
	if _, err := PushImages(ctx, &Content{Bundle: b, CacheDir: t.TempDir()}, b.Manifest.Images, []Replica{src}); err != nil {
		t.Fatal(err)
	}
	served, err := ReplicaRefs(ctx, src, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, im := range b.Manifest.Images {
		for _, ref := range im.Refs {
			want++
			mr, _ := MirrorRef("x", ref)
			if served[strings.TrimPrefix(mr.String(), "x/")] != im.Digest {
				t.Errorf("ReplicaRefs: %s not listed with %s (%v)", ref, im.Digest, served)
			}
		}
	}
	if len(served) != want {
		t.Errorf("ReplicaRefs listed %d references, the registry holds %d", len(served), want)
	}
	if _, err := ReplicaRefs(ctx, src, 2); err == nil {
		t.Error("ReplicaRefs read past its bound")
	}
	dst := []Replica{
		{Name: "user on reg1", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true},
		{Name: "user on reg2", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true},
	}
	refs := []string{b.Manifest.Images[0].Refs[0], b.Manifest.Images[1].Refs[0]}
	images, pushes, err := CopyImages(ctx, src, refs, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || len(pushes) != 2 || pushes[0].Pushed != 2 || pushes[1].Pushed != 2 {
		t.Errorf("copy: %+v %+v", images, pushes)
	}
	for _, d := range dst {
		have, err := ReplicaRefs(ctx, d, 100)
		if err != nil || len(have) != 2 {
			t.Errorf("%s serves %v after the copy (%v); want the 2 copied", d.Name, have, err)
		}
	}
	if _, again, err := CopyImages(ctx, src, refs, dst); err != nil || again[0].Sent != 0 || again[1].Sent != 0 {
		t.Errorf("second copy: %+v %v; want nothing sent", again, err)
	}
	if _, _, err := CopyImages(ctx, src, []string{"registry.k8s.io/nosuch:1"}, dst); err == nil || !strings.Contains(err.Error(), "registry.k8s.io/nosuch:1") {
		t.Errorf("copy of an image the source lacks: %v", err)
	}
}
