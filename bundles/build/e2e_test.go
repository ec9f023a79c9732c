package build

import (
	"context"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// TestBuildSmallSpec builds the small spec end to end — a module from the proxy, a local command, Debian packages
// with their dependencies, a file, a chart, two assembled images (one with unpacked .debs) — and checks the
// bundle verifies and holds what the spec asked for.
func TestBuildSmallSpec(t *testing.T) {
	sb := smallBundle(t)
	ctx := context.Background()
	res, err := bundles.Verify(ctx, sb.path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{sb.pub}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	t.Logf("cold build %s: %d files, %d bytes compressed", sb.took.Round(time.Second), len(m.Files), sb.result.CompressedBytes)
	for _, p := range []string{"bin/hello", "files/readme.txt", "charts/demo-0.1.0.tgz", "images/index.json", "images/oci-layout"} {
		if _, ok := m.FileByPath(p); !ok {
			t.Errorf("bundle lacks %s", p)
		}
	}
	pkgs := map[string]bundles.Package{}
	for _, p := range m.Packages {
		pkgs[p.Name] = p
	}
	if !pkgs["socat"].Requested || pkgs["libwrap0"].Name == "" || pkgs["libwrap0"].Requested {
		t.Errorf("packages = %+v, want socat requested and its dependency libwrap0", m.Packages)
	}
	for _, ref := range []string{"registry.k8s.io/pause:3.10", "berth.test/pause:latest", "berth.test/hello:v1"} {
		if _, ok := m.Image(ref); !ok {
			t.Errorf("bundle lacks image %s", ref)
		}
	}
	hello, _ := m.Image("berth.test/hello:v1")
	pause, _ := m.Image("registry.k8s.io/pause:3.10")
	if len(hello.Layers) != 3 || len(pause.Layers) != 2 || hello.Layers[0] != pause.Layers[0] {
		t.Errorf("layers: hello %v, pause %v; want base+debs+files and base+files sharing the base", hello.Layers, pause.Layers)
	}
	comps := map[string]string{}
	for _, c := range m.Components {
		comps[c.Name] = c.Version
	}
	if comps["hello"] != "v0.0.0-20250915201037-7f05d217867b" || comps["pause-image"] != "3.10" || comps["demo-chart"] != "0.1.0" {
		t.Errorf("components = %v", comps)
	}
	if m.Provenance.SpecDigest == "" || m.Provenance.GoVersion == "" || m.Provenance.BuildTime.IsZero() {
		t.Errorf("provenance = %+v", m.Provenance)
	}

	// The installed binary runs.
	b, err := bundles.Open(ctx, sb.path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{sb.pub}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := b.Extract(ctx, dir, bundles.Filter{Kinds: []bundles.FileKind{bundles.KindBinary, bundles.KindPackage}}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "bin", "hello")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Hello") {
		t.Fatalf("bin/hello: %v: %s", err, out)
	}
	// The packages are real .debs whose control data names them.
	for _, p := range m.Packages {
		out, err := exec.Command("dpkg-deb", "--field", filepath.Join(dir, filepath.FromSlash(p.Path)), "Package", "Version").Output()
		if err != nil || !strings.Contains(string(out), "Package: "+p.Name) || !strings.Contains(string(out), "Version: "+p.Version) {
			t.Errorf("%s: dpkg-deb says %q (%v)", p.Path, out, err)
		}
	}
}

// TestBuildIsCachedAndReproducible rebuilds the small spec: with the warm cache (nothing rebuilt, same digests),
// and with a second empty cache and the same build time (byte-identical bundle).
func TestBuildIsCachedAndReproducible(t *testing.T) {
	sb := smallBundle(t)
	ctx := context.Background()
	warm := filepath.Join(t.TempDir(), "warm.tar")
	start := time.Now()
	res, err := New(Options{Spec: "testdata/small/spec.yaml", Output: warm, SignKey: sb.priv, CacheDir: sb.cache, Builder: "test"}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm build %s (cold was %s)", time.Since(start).Round(time.Millisecond), sb.took.Round(time.Second))
	sameContent(t, sb.result.Manifest, res.Manifest)

	// Two builds from two empty caches at one fixed build time: identical bytes.
	fixed := time.Date(2024, 12, 10, 0, 0, 0, 0, time.UTC)
	var sums []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "repro.tar")
		cacheDir := filepath.Join(t.TempDir(), "cache")
		if i == 1 {
			cacheDir = sb.cache
		}
		if _, err := New(Options{Spec: "testdata/small/spec.yaml", Output: out, SignKey: sb.priv, CacheDir: cacheDir, Builder: "test", BuildTime: fixed}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		sum, _, err := fileDigest(out)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	if sums[0] != sums[1] {
		t.Fatalf("same spec and build time gave bundles %s and %s", sums[0], sums[1])
	}
}

// sameContent checks two manifests list the same files, images and packages with the same digests.
func sameContent(t *testing.T, a, b *bundles.Manifest) {
	t.Helper()
	if len(a.Files) != len(b.Files) {
		t.Fatalf("file count %d vs %d", len(a.Files), len(b.Files))
	}
	for i := range a.Files {
		if a.Files[i] != b.Files[i] {
			t.Errorf("file %s: %+v vs %+v", a.Files[i].Path, a.Files[i], b.Files[i])
		}
	}
	for i := range a.Images {
		if a.Images[i].Digest != b.Images[i].Digest {
			t.Errorf("image %s: %s vs %s", a.Images[i].Name, a.Images[i].Digest, b.Images[i].Digest)
		}
	}
}

func TestBuildRefusesBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleSpec\nname: t\nversion: v1\nsources:\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, body string
		want       []string
	}{
		{"missing file", "  - name: f\n    file: {path: nope.txt, to: files/nope.txt}\n", []string{"files/nope.txt", "nope.txt"}},
		{"image uses unknown go source", "  - name: i\n    image: {refs: [x.test/i:1], entrypoint: [/x], binaries: [{from: ghost/x, to: /x}]}\n", []string{`no go source named "ghost"`}},
		{"chart without Chart.yaml", "  - name: c\n    chart: {path: .}\n", []string{"Chart.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireTools(t, "go")
			_, err := New(Options{Spec: write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.body), Output: filepath.Join(dir, "out.tar"), CacheDir: filepath.Join(dir, "cache")}).Run(context.Background())
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out.tar")); err == nil {
				t.Error("a failed build left an output file")
			}
		})
	}
}
