// Command patchbench prints how large patch bundles are against the full bundle: when only the DNS add-on's image
// changed, when only one OS package changed, and from one Kubernetes minor to the next. The bundle benchmark
// (hack/bench-bundle.sh) runs it on the lab bundles; without them it measures bundletest's small bundles.
//
//	go run ./hack/patchbench [-base lab-v1.31.tar -next lab-v1.32.tar -key bundle.pub -sign-key bundle.key]
package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
)

func main() {
	var in inputs
	flag.StringVar(&in.base, "base", "", "full bundle the patches are made against (lab-v1.31.tar)")
	flag.StringVar(&in.next, "next", "", "full bundle of the next minor (lab-v1.32.tar)")
	flag.StringVar(&in.pub, "key", "", "public key that signed both")
	flag.StringVar(&in.priv, "sign-key", "", "private key to sign the patches with")
	flag.Parse()
	if err := run(context.Background(), in); err != nil {
		fmt.Fprintln(os.Stderr, "patchbench:", err)
		os.Exit(1)
	}
}

// inputs are the bundles and keys to measure with; any missing means bundletest bundles are measured instead.
type inputs struct{ base, next, pub, priv string }

func (in inputs) present() bool {
	for _, p := range []string{in.base, in.next, in.pub, in.priv} {
		if _, err := os.Stat(p); p == "" || err != nil {
			return false
		}
	}
	return true
}

// bench holds what every measurement needs.
type bench struct {
	tmp  string             // where patches are written, then removed
	sign ed25519.PrivateKey // signs them
	lab  bool               // measuring the lab bundles, which the goals are for
	// fixed is the size of a patch that carries no file: the manifest, its signature, the tar's end.
	fixed int64
}

func run(ctx context.Context, in inputs) error {
	tmp, err := os.MkdirTemp("", "patchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{tmp: tmp, lab: in.present()}
	var pub ed25519.PublicKey
	if b.lab {
		if pub, err = bundles.LoadPublicKey(in.pub); err != nil {
			return err
		}
		if b.sign, err = bundles.LoadPrivateKey(in.priv); err != nil {
			return err
		}
	} else {
		fmt.Println("  (lab bundles or keys not found: measuring bundletest's bundles, whose files are a few bytes each, so the manifest dominates)")
		if in, pub, b.sign, err = testBundles(tmp); err != nil {
			return err
		}
	}
	verify := bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}}
	base, err := bundles.Open(ctx, in.base, verify)
	if err != nil {
		return err
	}
	full := fileSize(in.base)
	fmt.Printf("  full bundle %s: %s\n", filepath.Base(in.base), mib(full))
	m := base.Manifest

	empty := filepath.Join(tmp, "empty.tar")
	if err := bundles.WritePatch(ctx, empty, base, base, bundles.WriteOptions{SignKey: b.sign}); err != nil {
		return err
	}
	b.fixed = fileSize(empty)
	// The DNS add-on's images: berth's health sidecar, dnsmasq, and the CoreDNS backend.
	for _, prefix := range []string{"berth.sh/dns-health:", "berth.sh/dnsmasq:", "registry.k8s.io/coredns/coredns:"} {
		im, ok := imageByRefPrefix(m, prefix)
		if !ok {
			continue
		}
		v, err := newVariant(ctx, base, imageBlobs(im)...)
		if err != nil {
			return err
		}
		if err := v.changeImage(im.Name); err != nil {
			return err
		}
		what := fmt.Sprintf("only the DNS add-on's %s image rebuilt (%s)", strings.TrimSuffix(prefix, ":"), mib(m.ImageBytes(im)))
		if err := b.measure(ctx, what, v, full, 5); err != nil {
			return err
		}
	}
	pkgs := append([]bundles.Package{}, m.Packages...)
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Size < pkgs[j].Size })
	for _, p := range []struct {
		what string
		pkg  bundles.Package
	}{{"median", pkgs[len(pkgs)/2]}, {"largest", pkgs[len(pkgs)-1]}} {
		v, err := newVariant(ctx, base, p.pkg.Path)
		if err != nil {
			return err
		}
		v.changeFile(p.pkg.Path)
		what := fmt.Sprintf("only one OS package changed: %s, the %s (%s)", p.pkg.Name, p.what, mib(p.pkg.Size))
		if err := b.measure(ctx, what, v, full, 5); err != nil {
			return err
		}
	}
	return b.nextMinor(ctx, base, in.next, verify)
}

// measure writes the variant as a patch and prints its size against the full bundle's.
func (b *bench) measure(ctx context.Context, what string, v *variant, full int64, goal float64) error {
	out := filepath.Join(b.tmp, "variant.tar")
	start := time.Now()
	if err := v.writePatch(ctx, out, bundles.WriteOptions{SignKey: b.sign}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	d := bundles.Compare(v.base.Manifest, v.m)
	size := fileSize(out)
	fmt.Printf("  %s\n    patch %s = %.2f%% of the full bundle (goal <= %.0f%%: %s), written in %s\n"+
		"    carries %s of content, %s compressed: the changed files themselves, %.2f%% of the full bundle\n",
		what, mib(size), pct(size, full), goal, b.met(pct(size, full) <= goal), time.Since(start).Round(time.Millisecond),
		mib(d.BytesToMove), mib(size-b.fixed), pct(size-b.fixed, full))
	return os.Remove(out)
}

// nextMinor writes the patch from base to the bundle at next and compares it with what changed.
func (b *bench) nextMinor(ctx context.Context, base *bundles.Bundle, next string, verify bundles.VerifyOptions) error {
	release, err := bundles.Open(ctx, next, verify)
	if err != nil {
		return err
	}
	full := fileSize(next)
	out := filepath.Join(b.tmp, "next.tar")
	start := time.Now()
	if err := bundles.WritePatch(ctx, out, base, release, bundles.WriteOptions{SignKey: b.sign}); err != nil {
		return err
	}
	took := time.Since(start)
	// The same release against itself carries no file: what remains is the fixed part (manifest, signature).
	empty := filepath.Join(b.tmp, "empty.tar")
	if err := bundles.WritePatch(ctx, empty, release, release, bundles.WriteOptions{SignKey: b.sign}); err != nil {
		return err
	}
	d := bundles.Compare(base.Manifest, release.Manifest)
	size, fixed := fileSize(out), fileSize(empty)
	fmt.Printf("  %s %s -> %s %s (full bundle %s: %s)\n", base.Manifest.Name, base.Manifest.Version,
		release.Manifest.Name, release.Manifest.Version, filepath.Base(next), mib(full))
	fmt.Printf("    patch %s = %.1f%% of the full bundle, written in %s\n", mib(size), pct(size, full), took.Round(time.Second))
	fmt.Printf("    changed artifacts: %s of content (%.1f%% of the release's %s), %s as compressed in the patch\n",
		mib(d.BytesToMove), pct(d.BytesToMove, d.BytesTotal), mib(d.BytesTotal), mib(size-fixed))
	fmt.Printf("    the rest (manifest of the whole release, signature, tar headers): %s = %.3f%% of the full bundle (goal <= 1%%: %s)\n",
		mib(fixed), pct(fixed, full), b.met(pct(fixed, full) <= 1))
	// What the upgrade stages on a host that holds the base: the content of the release it needs that the base's
	// content for it does not have (the upgrade end-to-end test checks the stage phase moves exactly this).
	for _, n := range []airgap.Node{{Name: "a control plane", ControlPlane: true}, {Name: "a worker"}} {
		move, whole, err := airgap.Moves(base, release, n, nil) // a cluster without a System registry: nodes import every image
		if err != nil {
			return err
		}
		fmt.Printf("    the upgrade stages on %s that holds the base: %s of the %s it needs (%.1f%%)\n", n.Name, mib(move), mib(whole), pct(move, whole))
	}
	return nil
}

// imageByRefPrefix finds the image with a ref starting with prefix.
func imageByRefPrefix(m *bundles.Manifest, prefix string) (bundles.Image, bool) {
	for _, im := range m.Images {
		for _, r := range im.Refs {
			if strings.HasPrefix(r, prefix) {
				return im, true
			}
		}
	}
	return bundles.Image{}, false
}

// testBundles writes two bundletest bundles (1.31 and 1.32 shaped) and a key when the lab's are not there.
func testBundles(dir string) (inputs, ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := bundles.GenerateKey()
	if err != nil {
		return inputs{}, nil, nil, err
	}
	in := inputs{base: filepath.Join(dir, "test-v1.31.tar"), next: filepath.Join(dir, "test-v1.32.tar")}
	for path, spec := range map[string]bundletest.Spec{in.base: {}, in.next: {KubernetesVersion: "v1.32.5", EtcdVersion: "3.5.16-0"}} {
		m, content := bundletest.Manifest(spec)
		err := bundles.Write(context.Background(), path, m, func(f bundles.File) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(content[f.Path]))), nil
		}, bundles.WriteOptions{SignKey: priv})
		if err != nil {
			return inputs{}, nil, nil, err
		}
	}
	return in, pub, priv, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func pct(part, whole int64) float64 { return 100 * float64(part) / float64(whole) }

func mib(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// met judges a goal; the goals are for the lab bundles, so on bundletest's it says so instead.
func (b *bench) met(ok bool) string {
	if !b.lab {
		return "for the lab bundles only"
	}
	if ok {
		return "met"
	}
	return "NOT met"
}
