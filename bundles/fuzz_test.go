package bundles

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// labFixture is a bundle shaped like the lab bundle (bundles/specs/lab-v1.31.yaml): its components, host
// binaries, CNI plugins, images and Debian packages, with small stand-in contents so that every digest holds.
// Its manifest is what the lab bundle's looks like, written by this package's own writer.
func labFixture(tb testing.TB) *fixture {
	tb.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{content: map[string][]byte{}, pub: pub, priv: priv, manifest: &Manifest{
		APIVersion: APIVersion, Kind: ManifestKind, Name: "lab", Version: "v1.31.4-berth.1", KubernetesVersion: "v1.31.4",
		Target: Target{OS: "linux", Arch: "amd64", Distro: "debian-12"},
		Provenance: Provenance{SpecName: "lab-v1.31.yaml", SpecDigest: "sha256:" + sha([]byte("lab-v1.31.yaml")),
			Builder: "v0.1.0", GoVersion: "go1.26.8"},
	}}
	f.manifest.Components = []Component{
		{Name: "kubernetes", Version: "v1.31.4", Source: "go k8s.io/kubernetes@v1.31.4"},
		{Name: "etcd", Version: "v3.5.15", Source: "go go.etcd.io/etcd/server/v3@v3.5.15"},
		{Name: "coredns", Version: "v1.11.3", Source: "go github.com/coredns/coredns@v1.11.3"},
		{Name: "flannel", Version: "v0.28.4", Source: "go github.com/flannel-io/flannel@v0.28.4"},
		{Name: "cni-plugins", Version: "v1.9.1", Source: "go github.com/containernetworking/plugins@v1.9.1"},
		{Name: "pause", Version: "3.10", Source: "image pause/pause (local:../internal/pause)", Note: "berth's own pause"},
	}
	for _, b := range []string{"kubeadm", "kubelet", "kubectl", "etcdctl"} {
		f.add("bin/"+b, []byte(b+" binary"), KindBinary)
	}
	for _, p := range []string{"bandwidth", "bridge", "firewall", "flannel", "host-device", "host-local", "ipvlan",
		"loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tuning", "vlan"} {
		f.add("bin/cni/"+p, []byte(p+" plugin"), KindCNI)
	}
	for i, p := range []struct {
		name, version string
		requested     bool
	}{{"containerd", "1.6.20~ds1-1+deb12u3", true}, {"runc", "1.1.5+ds1-1+deb12u1", true}, {"keepalived", "1:2.2.7-1+b2", true},
		{"haproxy", "2.6.12-1+deb12u2", true}, {"conntrack", "1:1.4.7-1+b2", true}, {"socat", "1.7.4.4-2", true},
		{"ebtables", "2.0.11-5", true}, {"ipset", "7.17-1", true}, {"dnsmasq", "2.90-4~deb12u1", true},
		{"libnl-3-200", "3.7.0-0.2+b1", false}, {"libipset13", "7.17-1", false}} {
		deb := []byte(fmt.Sprintf("!<arch>\n%s %s %d", p.name, p.version, i))
		path := "packages/debian-12/" + p.name + "_" + p.version + "_amd64.deb"
		f.add(path, deb, KindPackage)
		f.manifest.Packages = append(f.manifest.Packages, Package{Name: p.name, Version: p.version, Arch: "amd64",
			Path: path, SHA256: sha(deb), Size: int64(len(deb)), Requested: p.requested})
	}
	base := []byte("shared base layer: /etc/passwd, /etc/group, /etc/nsswitch.conf, /tmp")
	for _, im := range []struct{ name, ref string }{
		{"kube-apiserver", "registry.k8s.io/kube-apiserver:v1.31.4"},
		{"kube-controller-manager", "registry.k8s.io/kube-controller-manager:v1.31.4"},
		{"kube-scheduler", "registry.k8s.io/kube-scheduler:v1.31.4"},
		{"kube-proxy", "registry.k8s.io/kube-proxy:v1.31.4"},
		{"etcd-image", "registry.k8s.io/etcd:3.5.15-0"},
		{"coredns-image", "registry.k8s.io/coredns/coredns:v1.11.3"},
		{"pause-image", "registry.k8s.io/pause:3.10"},
		{"flannel-image", "ghcr.io/flannel-io/flannel:v0.28.4"},
		{"dnsmasq-image", "berth.sh/dnsmasq:2.90"},
		{"dns-health-image", "berth.sh/dns-health:0.2.0"},
	} {
		f.image(im.name, []string{im.ref}, base, []byte(im.name+" layer"))
	}
	chart := []byte("dns chart tgz")
	f.add("charts/dns-0.1.0.tgz", chart, KindChart)
	f.manifest.Charts = []Chart{{Name: "dns", Version: "0.1.0", Path: "charts/dns-0.1.0.tgz", SHA256: sha(chart), Size: int64(len(chart))}}
	f.finish(tb)
	return f
}

// fuzzSeeds are bundles as tar streams, what the fuzzer mutates: the lab-shaped bundle signed, a one-file
// bundle signed and unsigned, one that ends after its signature, the lab bundle cut in half, and a patch of the
// lab bundle (to a release with a new kubeadm and a new image) against base, the lab bundle's file. The trusted
// key signed them.
func fuzzSeeds(f *testing.F) (seeds [][]byte, trusted ed25519.PublicKey, base string) {
	lab := labFixture(f)
	one := labFixture(f)
	one.pub, one.priv = lab.pub, lab.priv
	one.manifest.Images, one.manifest.Packages, one.manifest.Charts = nil, nil, nil
	one.manifest.Files = []File{one.manifest.Files[0]}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	tarOf := func(p string) []byte {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out, err := dec.DecodeAll(raw, nil)
		if err != nil {
			f.Fatal(err)
		}
		return out
	}
	labSigned := lab.write(f, lab.priv)
	labTar := tarOf(labSigned)
	head := readEntries(f, labSigned)[:2]
	return [][]byte{labTar, tarOf(one.write(f, one.priv)), tarOf(one.write(f, nil)), tarOf(writeEntries(f, head)),
		labTar[:len(labTar)/2], tarOf(labPatch(f, lab, labSigned))}, lab.pub, labSigned
}

// labPatch writes a patch, against the lab fixture's bundle at labPath, of a release with another kubeadm and
// one more image, and returns the patch's path.
func labPatch(f *testing.F, lab *fixture, labPath string) string {
	ctx := context.Background()
	next := labFixture(f)
	next.pub, next.priv = lab.pub, lab.priv
	next.manifest.Version = "v1.31.5-berth.1"
	next.replace("bin/kubeadm", []byte("kubeadm v1.31.5"))
	next.image("kube-proxy-next", []string{"registry.k8s.io/kube-proxy:v1.31.5"}, next.content[BlobPath(next.manifest.Images[0].Layers[0])], []byte("kube-proxy v1.31.5 layer"))
	next.finish(f)
	idx, err := next.manifest.OCIIndex(next.manifest.Images)
	if err != nil {
		f.Fatal(err)
	}
	next.replace(ImagesDir+"index.json", idx)
	base, err := Open(ctx, labPath, lab.opts())
	if err != nil {
		f.Fatal(err)
	}
	release, err := Open(ctx, next.write(f, next.priv), next.opts())
	if err != nil {
		f.Fatal(err)
	}
	out := filepath.Join(f.TempDir(), "patch.tar")
	if err := WritePatch(ctx, out, base, release, WriteOptions{SignKey: lab.priv}); err != nil {
		f.Fatal(err)
	}
	return out
}

// fuzzBundles turns fuzz inputs into bundle files. A tar stream is compressed as berth writes bundles, so that
// mutations reach the tar and manifest readers; input that already starts with a zstd frame is used as the file
// itself, so that the decoder meets hostile frames too.
type fuzzBundles struct {
	dir string
	enc *zstd.Encoder
}

func newFuzzBundles(f *testing.F) *fuzzBundles {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzBundles{dir: f.TempDir(), enc: enc}
}

func (fb *fuzzBundles) file(t *testing.T, data []byte) string {
	if !bytes.HasPrefix(data, zstdMagic) {
		data = fb.enc.EncodeAll(data, nil)
	}
	tmp, err := os.CreateTemp(fb.dir, "bundle-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(tmp.Name()) })
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	return tmp.Name()
}

// checkRefusal fails unless err is a *VerifyError that names each file and its problem, or a *NeedsBaseError
// naming the base a patch needs.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var verr *VerifyError
	var needs *NeedsBaseError
	if errors.As(err, &needs) {
		if needs.Patch == "" || needs.Base.ManifestDigest == "" {
			t.Fatalf("a patch refused without naming its base: %v", err)
		}
		return
	}
	if !errors.As(err, &verr) {
		t.Fatalf("refusal is a %T, not a *VerifyError: %v", err, err)
	}
	if len(verr.Problems) == 0 {
		t.Fatalf("refusal without problems: %v", err)
	}
	for _, p := range verr.Problems {
		if p.File == "" || p.Problem == "" {
			t.Fatalf("problem without file or text: %+v", p)
		}
	}
}

// FuzzParseManifest: no manifest bytes make the parser panic or accept an inconsistent manifest, and what it
// accepts survives a write and a second read unchanged.
func FuzzParseManifest(f *testing.F) {
	patch := labFixture(f)
	patch.manifest.Base = &BaseRef{ManifestDigest: "sha256:" + sha([]byte("base")), Name: "lab", Version: "v1.31.4-berth.1"}
	for _, fx := range []*fixture{labFixture(f), newFixture(f), patch} {
		data, err := fx.manifest.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleManifest\nbase: {manifestDigest: sha256:x, name: ''}\n"))
	f.Add([]byte("apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleManifest\nfiles: &f [*f]\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"))
	f.Add([]byte("files:\n- {path: ../x, size: -1, sha256: XYZ, mode: '9'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseManifest accepted a manifest Validate refuses: %v", err)
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		m2, err := ParseManifest(again)
		if err != nil {
			t.Fatalf("a manifest written by Marshal does not parse: %v\n%s", err, again)
		}
		if again2, _ := m2.Marshal(); !bytes.Equal(again, again2) {
			t.Fatalf("round trip changes the manifest:\n%s\n---\n%s", again, again2)
		}
	})
}

// FuzzVerify streams arbitrary tar streams (and zstd files) through Verify and, when it accepts one, through
// Open and a Walk that reads every file: nothing may panic, a refusal names each file and problem, an accepted
// bundle has exactly the files its manifest lists (a patch, read with the lab fixture's bundle as its base, at
// most those), and every byte Walk hands out matches the manifest.
func FuzzVerify(f *testing.F) {
	seeds, trusted, base := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	fb := newFuzzBundles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := fb.file(t, data)
		checkWithoutBase(t, p, VerifyOptions{PublicKeys: []ed25519.PublicKey{trusted}, InsecureSkipSignature: true, WithoutBase: true})
		opts := VerifyOptions{PublicKeys: []ed25519.PublicKey{trusted}, InsecureSkipSignature: true, Base: base}
		res, err := Verify(context.Background(), p, opts)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if res == nil || res.Manifest == nil {
			t.Fatalf("Verify = %+v, nil", res)
		}
		if patch := res.Manifest.Base != nil; patch && (res.Base == nil || res.Files+res.FromBase > len(res.Manifest.Files)) ||
			!patch && res.Files != len(res.Manifest.Files) {
			t.Fatalf("accepted with %d entries (%d from a base) for %d listed files", res.Files, res.FromBase, len(res.Manifest.Files))
		}
		b, err := Open(context.Background(), p, opts)
		if err != nil {
			t.Fatalf("Verify accepted, Open refused: %v", err)
		}
		err = b.Walk(context.Background(), Filter{}, func(_ File, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			t.Fatalf("walk of a verified bundle: %v", err)
		}
	})
}

// checkWithoutBase opens the bundle at p as a patch may be opened without its base: a refusal names each file and
// problem; an accepted bundle hands out every file it says it holds, each byte matching the manifest.
func checkWithoutBase(t *testing.T, p string, opts VerifyOptions) {
	b, err := Open(context.Background(), p, opts)
	if err != nil {
		checkRefusal(t, err)
		return
	}
	var held []string
	for _, f := range b.Manifest.Files {
		if b.Holds(f.Path) {
			held = append(held, f.Path)
		}
	}
	if b.Manifest.Base == nil && len(held) != len(b.Manifest.Files) {
		t.Fatalf("a full bundle opened without a base holds %d of its %d files", len(held), len(b.Manifest.Files))
	}
	if len(held) == 0 {
		return
	}
	err = b.Walk(context.Background(), Filter{Paths: held}, func(_ File, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		t.Fatalf("walk of what a verified patch holds without its base: %v", err)
	}
}

// FuzzReadHeader reads the first entries of arbitrary bundles, with and without a trusted key: nothing may
// panic, and what is accepted has a manifest (and, with the key, a verified signature).
func FuzzReadHeader(f *testing.F) {
	seeds, trusted, _ := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	fb := newFuzzBundles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := fb.file(t, data)
		for _, opts := range []VerifyOptions{{}, {PublicKeys: []ed25519.PublicKey{trusted}}} {
			h, err := ReadHeader(p, opts)
			if err != nil {
				checkRefusal(t, err)
				continue
			}
			if h == nil || h.Manifest == nil {
				t.Fatalf("ReadHeader = %+v, nil", h)
			}
			if len(opts.PublicKeys) > 0 && !h.SignatureVerified {
				t.Fatalf("accepted with a trusted key but no verified signature")
			}
		}
	})
}
