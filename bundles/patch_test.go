package bundles_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
)

// patchCases are pairs of lab-shaped bundles: one image changed, one OS package changed, another Kubernetes.
func patchCases() []struct {
	name       string
	old, new   bundletest.Spec
	want       func(old, new *bundles.Manifest) []string // what the patch must carry
	components []string                                  // the components diff says it carries bytes of
} {
	lab := map[string]string{"containerd": "1.6.20~ds1-1+deb12u1", "runc": "1.1.5+ds1-1+deb12u1",
		"keepalived": "1:2.2.7-1+b2", "haproxy": "2.6.12-1+deb12u2", "dnsmasq": "2.90-4~deb12u1"}
	newerRunc := map[string]string{}
	for k, v := range lab {
		newerRunc[k] = v
	}
	newerRunc["runc"] = "1.1.5+ds1-1+deb12u2"
	return []struct {
		name       string
		old, new   bundletest.Spec
		want       func(old, new *bundles.Manifest) []string
		components []string
	}{
		{"dns image", bundletest.Spec{}, bundletest.Spec{Extra: map[string]string{"coredns-image": "registry.k8s.io/coredns/coredns:v1.12.0"}},
			func(_, m *bundles.Manifest) []string {
				im, _ := m.Image("coredns-image")
				// The image's own layer, config and manifest, and the index that tags it; the shared base layer stays.
				return []string{bundles.BlobPath(im.Layers[1]), bundles.BlobPath(im.Config), bundles.BlobPath(im.Digest), "images/index.json"}
			}, []string{"(image-index)", "coredns-image"}},
		{"one package", bundletest.Spec{Packages: lab}, bundletest.Spec{Packages: newerRunc},
			func(_, m *bundles.Manifest) []string {
				return []string{"packages/debian-12/runc_1.1.5+ds1-1+deb12u2_amd64.deb"}
			}, []string{"(package)"}},
		{"kubernetes version", bundletest.Spec{}, bundletest.Spec{KubernetesVersion: "v1.32.5", EtcdVersion: "3.5.16-0"},
			func(_, m *bundles.Manifest) []string {
				out := []string{"bin/etcdctl", "bin/kubeadm", "bin/kubectl", "bin/kubelet", "images/index.json"}
				for _, n := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd-image"} {
					im, _ := m.Image(n)
					out = append(out, bundles.BlobPath(im.Layers[1]), bundles.BlobPath(im.Config), bundles.BlobPath(im.Digest))
				}
				return out
			}, []string{"(binary)", "(image-index)", "etcd-image", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler"}},
	}
}

func TestPatchBundles(t *testing.T) {
	ctx := context.Background()
	key := bundletest.NewKey(t)
	other := bundletest.Open(t, t.TempDir(), bundletest.Spec{Salt: "another base"}, key)
	for _, tc := range patchCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := bundletest.Open(t, t.TempDir(), tc.old, key)
			full := bundletest.Open(t, t.TempDir(), tc.new, key)
			patch := filepath.Join(t.TempDir(), "patch.tar")
			if err := bundles.WritePatch(ctx, patch, old, full, bundles.WriteOptions{SignKey: key.Private}); err != nil {
				t.Fatal(err)
			}

			// The patch holds exactly the changed files, and its manifest is the full release naming its base.
			want := tc.want(old.Manifest, full.Manifest)
			sort.Strings(want)
			got := entryNames(t, patch)
			if strings.Join(got, "\n") != strings.Join(append([]string{bundles.ManifestPath, bundles.SignaturePath}, want...), "\n") {
				t.Fatalf("patch holds\n  %s\nwant the manifest, its signature and\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			d := bundles.Compare(old.Manifest, full.Manifest)
			var wantBytes int64
			for _, p := range want {
				f, _ := full.Manifest.FileByPath(p)
				wantBytes += f.Size
			}
			if d.BytesToMove != wantBytes {
				t.Errorf("diff says %d bytes move, the patch carries %d", d.BytesToMove, wantBytes)
			}
			var moving []string
			var sum int64
			for _, c := range d.ByComponent {
				if c.BytesToMove > 0 {
					moving = append(moving, c.Component)
				}
				sum += c.BytesToMove
			}
			sort.Strings(moving)
			if strings.Join(moving, ",") != strings.Join(tc.components, ",") || sum != d.BytesToMove {
				t.Errorf("diff by component: %v move %d bytes, want %v moving %d", moving, sum, tc.components, d.BytesToMove)
			}

			// Verified against its base: every file of the release, from either file.
			opts := key.Verify()
			opts.Base = old.Path
			res, err := bundles.Verify(ctx, patch, opts)
			if err != nil {
				t.Fatalf("patch refused with its base: %v", err)
			}
			if res.Files != len(want) || res.FromBase != len(full.Manifest.Files)-len(want) || res.Base == nil ||
				res.Manifest.Base == nil || res.Manifest.Base.ManifestDigest != old.ManifestDigest {
				t.Fatalf("verify: %d files, %d from base, base %+v", res.Files, res.FromBase, res.Manifest.Base)
			}

			// Without a base: a patch, and which base it needs.
			_, err = bundles.Verify(ctx, patch, key.Verify())
			var needs *bundles.NeedsBaseError
			if !errors.As(err, &needs) || needs.Base.ManifestDigest != old.ManifestDigest ||
				!strings.Contains(err.Error(), "patch bundle") || !strings.Contains(err.Error(), old.Manifest.Version) {
				t.Fatalf("verify without base: %v", err)
			}

			// Another base: refused, naming both manifest digests.
			opts.Base = other.Path
			_, err = bundles.Verify(ctx, patch, opts)
			if err == nil || !strings.Contains(err.Error(), old.ManifestDigest) || !strings.Contains(err.Error(), other.ManifestDigest) {
				t.Fatalf("wrong base: %v", err)
			}

			// A base that lacks a file the patch relies on: refused, naming that file.
			relied := firstFromBase(full.Manifest, want)
			opts.Base = withoutEntry(t, old.Path, relied)
			_, err = bundles.Verify(ctx, patch, opts)
			if err == nil || !strings.Contains(err.Error(), relied) || !strings.Contains(err.Error(), "in neither the patch nor its base") {
				t.Fatalf("base without %s: %v", relied, err)
			}

			// Opened with its base, the patch reads exactly as the full bundle does.
			b, err := bundles.OpenPatch(ctx, patch, old.Path, key.Verify())
			if err != nil {
				t.Fatal(err)
			}
			if b.Base == nil || b.Base.ManifestDigest != old.ManifestDigest {
				t.Fatalf("opened patch has base %+v", b.Base)
			}
			fromPatch, fromFull := t.TempDir(), t.TempDir()
			if _, err := b.Extract(ctx, fromPatch, bundles.Filter{}); err != nil {
				t.Fatal(err)
			}
			if _, err := full.Extract(ctx, fromFull, bundles.Filter{}); err != nil {
				t.Fatal(err)
			}
			sameTrees(t, fromFull, fromPatch)
			var refs []string
			for _, im := range full.Manifest.Images {
				refs = append(refs, im.Refs...)
			}
			var a1, a2 bytes.Buffer
			if err := full.WriteImageArchive(ctx, &a1, refs...); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteImageArchive(ctx, &a2, refs...); err != nil {
				t.Fatal(err)
			}
			if a1.Len() == 0 || !bytes.Equal(a1.Bytes(), a2.Bytes()) {
				t.Fatalf("image archive from the patch (%d bytes) differs from the full bundle's (%d bytes)", a2.Len(), a1.Len())
			}
		})
	}
}

// TestPatchWithoutBase opens each patch as an upgrade does when the base is only on the hosts: what the patch
// carries is verified and can be read, what it takes from the base cannot (the error says to pass --base), and a
// damaged entry is still refused.
func TestPatchWithoutBase(t *testing.T) {
	ctx := context.Background()
	key := bundletest.NewKey(t)
	for _, tc := range patchCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := bundletest.Open(t, t.TempDir(), tc.old, key)
			full := bundletest.Open(t, t.TempDir(), tc.new, key)
			patch := filepath.Join(t.TempDir(), "patch.tar")
			if err := bundles.WritePatch(ctx, patch, old, full, bundles.WriteOptions{SignKey: key.Private}); err != nil {
				t.Fatal(err)
			}
			opts := key.Verify()
			opts.WithoutBase = true
			res, err := bundles.Verify(ctx, patch, opts)
			want := tc.want(old.Manifest, full.Manifest)
			if err != nil || !res.WithoutBase || res.Base != nil || res.Files != len(want) || res.FromBase == 0 {
				t.Fatalf("verify without base: %+v, %v; want %d entries checked and the rest left to the base", res, err, len(want))
			}
			b, err := bundles.Open(ctx, patch, opts)
			if err != nil {
				t.Fatal(err)
			}
			carried := map[string]bool{}
			for _, p := range want {
				f, _ := full.Manifest.FileByPath(p)
				carried[f.SHA256] = true
			}
			for _, f := range full.Manifest.Files {
				if b.Holds(f.Path) != carried[f.SHA256] {
					t.Errorf("Holds(%s) = %v, the patch carries its content: %v", f.Path, b.Holds(f.Path), carried[f.SHA256])
				}
			}

			// What it carries reads as the full bundle's; what the base holds is refused, naming the file and --base.
			fromPatch, fromFull := t.TempDir(), t.TempDir()
			if _, err := b.Extract(ctx, fromPatch, bundles.Filter{Paths: want}); err != nil {
				t.Fatal(err)
			}
			if _, err := full.Extract(ctx, fromFull, bundles.Filter{Paths: want}); err != nil {
				t.Fatal(err)
			}
			sameTrees(t, fromFull, fromPatch)
			relied := firstFromBase(full.Manifest, want)
			_, err = b.Extract(ctx, t.TempDir(), bundles.Filter{Paths: []string{relied}})
			if err == nil || !strings.Contains(err.Error(), relied) || !strings.Contains(err.Error(), "--base") ||
				!strings.Contains(err.Error(), old.ManifestDigest) {
				t.Fatalf("extract of %s, which only the base holds: %v", relied, err)
			}

			// An entry missing from the patch cannot be told from one its base holds here: staging finds it absent
			// on the hosts. An entry that is there but damaged is refused.
			damaged := withEntryFlipped(t, patch, want[0])
			if _, err := bundles.Verify(ctx, damaged, opts); err == nil || !strings.Contains(err.Error(), want[0]) {
				t.Fatalf("patch with %s damaged, verified without base: %v", want[0], err)
			}
			// Without WithoutBase, a patch still needs its base.
			var needs *bundles.NeedsBaseError
			if _, err := bundles.Verify(ctx, patch, key.Verify()); !errors.As(err, &needs) {
				t.Fatalf("verify without base and without WithoutBase: %v", err)
			}
		})
	}
}

// firstFromBase returns the first file of the release that the patch does not carry.
func firstFromBase(m *bundles.Manifest, carried []string) string {
	for _, f := range m.Files {
		if !contains(carried, f.Path) {
			return f.Path
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameTrees fails unless the two directories hold the same files with the same content and modes.
func sameTrees(t *testing.T, want, got string) {
	t.Helper()
	files := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = info.Mode().String() + " " + string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := files(want), files(got)
	if len(w) == 0 || len(w) != len(g) {
		t.Fatalf("extracted %d files from the patch, %d from the full bundle", len(g), len(w))
	}
	for p, c := range w {
		if g[p] != c {
			t.Errorf("%s differs between the patch and the full bundle", p)
		}
	}
}
