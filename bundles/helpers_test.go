package bundles

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// fixture is a small but complete bundle: a binary, a CNI plugin, two images sharing a layer, a package, a
// chart and a plain file.
type fixture struct {
	manifest *Manifest
	content  map[string][]byte
	pub      ed25519.PublicKey
	priv     ed25519.PrivateKey
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// addBlob stores a blob and returns its digest.
func (f *fixture) addBlob(data []byte) string {
	d := "sha256:" + sha(data)
	f.add(BlobPath(d), data, KindImageBlob)
	return d
}

func (f *fixture) add(p string, data []byte, kind FileKind) {
	if _, ok := f.content[p]; ok {
		return
	}
	f.content[p] = data
	f.manifest.Files = append(f.manifest.Files, File{Path: p, Size: int64(len(data)), SHA256: sha(data), Mode: 0o644, Kind: kind})
}

// replace changes the content of a listed file.
func (f *fixture) replace(p string, data []byte) {
	f.content[p] = data
	for i := range f.manifest.Files {
		if f.manifest.Files[i].Path == p {
			f.manifest.Files[i].Size, f.manifest.Files[i].SHA256 = int64(len(data)), sha(data)
		}
	}
}

// image adds an image whose layers are the given contents.
func (f *fixture) image(name string, refs []string, layers ...[]byte) {
	var ls []map[string]any
	im := Image{Name: name, Refs: refs, MediaType: "application/vnd.oci.image.manifest.v1+json"}
	for _, l := range layers {
		d := f.addBlob(l)
		im.Layers = append(im.Layers, d)
		ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(l)})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": im.Layers}})
	im.Config = f.addBlob(cfg)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": im.MediaType,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": im.Config, "size": len(cfg)}, "layers": ls})
	im.Digest = f.addBlob(man)
	f.manifest.Images = append(f.manifest.Images, im)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{content: map[string][]byte{}, pub: pub, priv: priv, manifest: &Manifest{
		APIVersion: APIVersion, Kind: ManifestKind, Name: "fixture", Version: "v1", KubernetesVersion: "v1.31.4",
		Target:     Target{OS: "linux", Arch: "amd64", Distro: "debian-12"},
		Components: []Component{{Name: "kubernetes", Version: "v1.31.4", Source: "test"}},
		Provenance: Provenance{SpecName: "fixture.yaml", SpecDigest: "sha256:" + sha(nil), Builder: "test", BuildTime: time.Unix(1700000000, 0).UTC()},
	}}
	f.add("bin/kubeadm", bytes.Repeat([]byte("kubeadm binary "), 5000), KindBinary)
	f.add("bin/cni/bridge", []byte("bridge plugin"), KindCNI)
	f.add("files/notes.txt", []byte("notes"), KindFile)
	deb := []byte("!<arch>\nfake deb content")
	f.add("packages/debian-12/socat_1.7_amd64.deb", deb, KindPackage)
	f.manifest.Packages = []Package{{Name: "socat", Version: "1.7", Arch: "amd64", Path: "packages/debian-12/socat_1.7_amd64.deb", SHA256: sha(deb), Size: int64(len(deb)), Requested: true}}
	chart := []byte("fake chart tgz")
	f.add("charts/demo-0.1.0.tgz", chart, KindChart)
	f.manifest.Charts = []Chart{{Name: "demo", Version: "0.1.0", Path: "charts/demo-0.1.0.tgz", SHA256: sha(chart), Size: int64(len(chart))}}
	shared := bytes.Repeat([]byte("shared base layer "), 100)
	f.image("pause", []string{"registry.k8s.io/pause:3.10"}, shared, []byte("pause layer"))
	f.image("etcd", []string{"registry.k8s.io/etcd:3.5.15-0", "example.test/etcd:3.5.15"}, shared, []byte("etcd layer"))
	f.finish(t)
	return f
}

// finish adds the OCI index and layout marker and sorts the files.
func (f *fixture) finish(t testing.TB) {
	t.Helper()
	sort.Slice(f.manifest.Files, func(i, j int) bool { return f.manifest.Files[i].Path < f.manifest.Files[j].Path })
	idx, err := f.manifest.OCIIndex(f.manifest.Images)
	if err != nil {
		t.Fatal(err)
	}
	f.add(ImagesDir+"index.json", idx, KindImageIndex)
	f.add(ImagesDir+"oci-layout", []byte(OCILayoutFile), KindImageIndex)
	sort.Slice(f.manifest.Files, func(i, j int) bool { return f.manifest.Files[i].Path < f.manifest.Files[j].Path })
}

// write writes the fixture as a bundle, signed with key (nil: unsigned), and returns its path.
func (f *fixture) write(t testing.TB, key ed25519.PrivateKey) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bundle.tar")
	err := Write(context.Background(), out, f.manifest, func(file File) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(f.content[file.Path])), nil
	}, WriteOptions{SignKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) opts() VerifyOptions { return VerifyOptions{PublicKeys: []ed25519.PublicKey{f.pub}} }

// entry is one tar entry held in memory, for tampering.
type entry struct {
	hdr  tar.Header
	data []byte
}

// readEntries decompresses a bundle into memory.
func readEntries(t testing.TB, p string) []entry {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{hdr: *h, data: data})
	}
}

// writeEntries compresses entries into a new bundle file.
func writeEntries(t testing.TB, entries []entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	out := filepath.Join(t.TempDir(), "tampered.tar")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
