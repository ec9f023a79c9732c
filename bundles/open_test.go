package bundles

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestExtractSelectsVerifiesAndResumes(t *testing.T) {
	f := newFixture(t)
	b, err := Open(context.Background(), f.write(t, f.priv), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"one path", Filter{Paths: []string{"bin/kubeadm"}}, []string{"bin/kubeadm"}},
		{"directory prefix", Filter{Paths: []string{"bin/"}}, []string{"bin/cni/bridge", "bin/kubeadm"}},
		{"kind", Filter{Kinds: []FileKind{KindPackage, KindChart}}, []string{"charts/demo-0.1.0.tgz", "packages/debian-12/socat_1.7_amd64.deb"}},
		{"image by ref", Filter{Images: []string{"registry.k8s.io/pause:3.10"}}, blobPaths(f.manifest.Images[0])},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := b.Extract(context.Background(), dir, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(res.Written)
			if strings.Join(res.Written, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("written %v, want %v", res.Written, tc.want)
			}
			for _, p := range tc.want {
				got, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil || !bytes.Equal(got, f.content[p]) {
					t.Fatalf("%s: content differs from the bundle (%v)", p, err)
				}
			}
			again, err := b.Extract(context.Background(), dir, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Written) != 0 || len(again.Skipped) != len(tc.want) {
				t.Fatalf("second extract wrote %v and skipped %v, want everything skipped", again.Written, again.Skipped)
			}
		})
	}
	t.Run("image selection gets a layout", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := b.Extract(context.Background(), dir, Filter{Images: []string{"example.test/etcd:3.5.15"}}); err != nil {
			t.Fatal(err)
		}
		var idx ociIndex
		data, _ := os.ReadFile(filepath.Join(dir, "images", "index.json"))
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		if len(idx.Manifests) != 2 || idx.Manifests[0].Digest != f.manifest.Images[1].Digest {
			t.Fatalf("index.json of the selection = %s", data)
		}
	})
	t.Run("unknown names", func(t *testing.T) {
		for _, fl := range []Filter{{Paths: []string{"bin/nope"}}, {Images: []string{"registry.k8s.io/nope:1"}}} {
			if _, err := b.Extract(context.Background(), t.TempDir(), fl); err == nil || !strings.Contains(err.Error(), "nope") {
				t.Errorf("filter %+v: err = %v, want it to name what is missing", fl, err)
			}
		}
	})
}

func blobPaths(im Image) []string {
	var out []string
	for _, d := range im.Blobs() {
		out = append(out, BlobPath(d))
	}
	sort.Strings(out)
	return out
}

// TestExtractRefusesBundleChangedAfterOpen swaps the file under an opened bundle: nothing unverified is written.
func TestExtractRefusesBundleChangedAfterOpen(t *testing.T) {
	f := newFixture(t)
	p := f.write(t, f.priv)
	b, err := Open(context.Background(), p, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	entries := readEntries(t, p)
	for i := range entries {
		if entries[i].hdr.Name == "bin/kubeadm" {
			entries[i].data = flip(entries[i].data)
		}
	}
	tampered := writeEntries(t, entries)
	if err := os.Rename(tampered, p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = b.Extract(context.Background(), dir, Filter{Paths: []string{"bin/kubeadm"}})
	if !errors.Is(err, ErrContentMismatch) {
		t.Fatalf("err = %v, want a content mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "kubeadm")); !os.IsNotExist(err) {
		t.Fatalf("a file that failed verification was left in place: %v", err)
	}
}

func TestWriteImageArchive(t *testing.T) {
	f := newFixture(t)
	b, err := Open(context.Background(), f.write(t, f.priv), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.WriteImageArchive(context.Background(), &buf, "registry.k8s.io/pause:3.10"); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	var idx ociIndex
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		data, _ := io.ReadAll(tr)
		if h.Name == "index.json" {
			json.Unmarshal(data, &idx)
		} else if rest, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && sha(data) != rest {
			t.Errorf("%s holds content with sha256 %s", h.Name, sha(data))
		}
	}
	pause := f.manifest.Images[0]
	want := append([]string{"oci-layout", "index.json"}, func() []string {
		var out []string
		for _, p := range blobPaths(pause) {
			out = append(out, strings.TrimPrefix(p, ImagesDir))
		}
		return out
	}()...)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("archive holds %v, want %v", names, want)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[AnnotationImageName] != "registry.k8s.io/pause:3.10" || idx.Manifests[0].Digest != pause.Digest {
		t.Fatalf("index = %+v", idx)
	}
}

func TestReadHeader(t *testing.T) {
	f := newFixture(t)
	p := f.write(t, f.priv)
	h, err := ReadHeader(p, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.SignedBy != KeyID(f.pub) || h.SignatureVerified || h.Manifest.Name != "fixture" {
		t.Fatalf("header = signed by %q verified %v name %q", h.SignedBy, h.SignatureVerified, h.Manifest.Name)
	}
	h, err = ReadHeader(p, f.opts())
	if err != nil || !h.SignatureVerified {
		t.Fatalf("with the key: verified %v, err %v", h != nil && h.SignatureVerified, err)
	}
	_, other, _ := GenerateKey()
	if _, err := ReadHeader(f.write(t, other), f.opts()); err == nil {
		t.Fatal("a header signed by an untrusted key was accepted")
	}
	sections := h.Manifest.Sections()
	var names []string
	for _, s := range sections {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "bin,charts,files,images,packages" {
		t.Fatalf("sections = %v", names)
	}
}
