package bundles

import (
	"archive/tar"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyAcceptsIntactBundle(t *testing.T) {
	f := newFixture(t)
	p := f.write(t, f.priv)
	res, err := Verify(context.Background(), p, f.opts())
	if err != nil {
		t.Fatalf("intact bundle refused: %v", err)
	}
	if !res.Signed || res.KeyID != KeyID(f.pub) || res.Files != len(f.manifest.Files) {
		t.Fatalf("result = signed %v key %s files %d, want signed by %s with %d files", res.Signed, res.KeyID, res.Files, KeyID(f.pub), len(f.manifest.Files))
	}
}

// flip changes one byte in the middle of data.
func flip(data []byte) []byte {
	out := append([]byte{}, data...)
	out[len(out)/2] ^= 0x40
	return out
}

// TestTamperEntries changes the archive's entries in every way an attacker or a broken copy could, and expects
// each change refused with a message naming the file and the problem.
func TestTamperEntries(t *testing.T) {
	f := newFixture(t)
	good := f.write(t, f.priv)
	other := newFixture(t) // same content, different key
	otherSigned := readEntries(t, other.write(t, other.priv))
	f2 := newFixture(t) // same key as f, different manifest
	f2.pub, f2.priv = f.pub, f.priv
	f2.manifest.Version = "v2"
	sameKeyOther := readEntries(t, f2.write(t, f.priv))

	byName := func(name string) func([]entry) []entry {
		return func(es []entry) []entry {
			for i := range es {
				if es[i].hdr.Name == name {
					es[i].data = flip(es[i].data)
				}
			}
			return es
		}
	}
	cases := []struct {
		name   string
		change func([]entry) []entry
		want   []string
	}{
		{"flip manifest byte", byName(ManifestPath), []string{SignaturePath, "bad signature"}},
		{"flip signature byte", byName(SignaturePath), []string{SignaturePath}},
		{"flip binary", byName("bin/kubeadm"), []string{"bin/kubeadm", "sha256 mismatch"}},
		{"flip cni plugin", byName("bin/cni/bridge"), []string{"bin/cni/bridge", "sha256 mismatch"}},
		{"flip package", byName("packages/debian-12/socat_1.7_amd64.deb"), []string{"socat_1.7_amd64.deb", "sha256 mismatch"}},
		{"flip chart", byName("charts/demo-0.1.0.tgz"), []string{"charts/demo-0.1.0.tgz", "sha256 mismatch"}},
		{"flip file", byName("files/notes.txt"), []string{"files/notes.txt", "sha256 mismatch"}},
		{"flip index.json", byName("images/index.json"), []string{"images/index.json", "sha256 mismatch"}},
		{"flip oci-layout", byName("images/oci-layout"), []string{"images/oci-layout", "sha256 mismatch"}},
		{"flip every image blob", func(es []entry) []entry {
			for i := range es {
				if strings.HasPrefix(es[i].hdr.Name, "images/blobs/") {
					es[i].data = flip(es[i].data)
				}
			}
			return es
		}, []string{"images/blobs/sha256/", "sha256 mismatch"}},
		{"grow a file", func(es []entry) []entry {
			for i := range es {
				if es[i].hdr.Name == "bin/kubeadm" {
					es[i].data = append(es[i].data, 'x')
				}
			}
			return es
		}, []string{"bin/kubeadm", "size mismatch"}},
		{"remove a file", func(es []entry) []entry { return remove(es, "bin/cni/bridge") }, []string{"bin/cni/bridge", "missing"}},
		{"remove an image blob", func(es []entry) []entry {
			return remove(es, BlobPath(f.manifest.Images[0].Layers[1]))
		}, []string{BlobPath(f.manifest.Images[0].Layers[1]), "missing"}},
		{"add a file", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "bin/backdoor", Mode: 0o755, Typeflag: tar.TypeReg}, data: []byte("evil")})
		}, []string{"bin/backdoor", "extra file"}},
		{"add a symlink", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/bash"}})
		}, []string{"bin/sh", "regular files only"}},
		{"add a hardlink", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "bin/kubectl", Typeflag: tar.TypeLink, Linkname: "bin/kubeadm"}})
		}, []string{"bin/kubectl", "regular files only"}},
		{"add a device", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "files/mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1}})
		}, []string{"files/mem", "regular files only"}},
		{"add a directory", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}})
		}, []string{"bin/", "regular files only"}},
		{"add a file outside the bundle", func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "../../etc/cron.d/x", Typeflag: tar.TypeReg, Mode: 0o644}, data: []byte("* * * * * root sh")})
		}, []string{"../../etc/cron.d/x", "extra file"}},
		{"duplicate a file", func(es []entry) []entry {
			for _, e := range es {
				if e.hdr.Name == "files/notes.txt" {
					return append(es, e)
				}
			}
			return es
		}, []string{"files/notes.txt", "twice"}},
		{"second manifest later", func(es []entry) []entry { return append(es, es[0]) }, []string{ManifestPath, "appears again"}},
		{"remove signature", func(es []entry) []entry { return remove(es, SignaturePath) }, []string{SignaturePath, "missing", "unsigned"}},
		{"remove manifest", func(es []entry) []entry { return remove(es, ManifestPath) }, []string{ManifestPath, "missing"}},
		{"manifest not first", func(es []entry) []entry {
			es[0], es[2] = es[2], es[0]
			return es
		}, []string{ManifestPath, "first entry"}},
		{"signature from a bundle signed by another key", func(es []entry) []entry {
			es[1] = otherSigned[1]
			return es
		}, []string{SignaturePath, "not a trusted key"}},
		{"whole header from a bundle signed by another key", func(es []entry) []entry {
			es[0], es[1] = otherSigned[0], otherSigned[1]
			return es
		}, []string{SignaturePath, "not a trusted key"}},
		{"signature of another bundle by the same key", func(es []entry) []entry {
			es[1] = sameKeyOther[1]
			return es
		}, []string{SignaturePath, "bad signature"}},
		{"manifest of another bundle by the same key", func(es []entry) []entry {
			es[0] = sameKeyOther[0]
			return es
		}, []string{SignaturePath, "bad signature"}},
		{"empty archive", func(es []entry) []entry { return nil }, []string{ManifestPath, "missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeEntries(t, tc.change(readEntries(t, good)))
			expectRefused(t, p, f.opts(), tc.want...)
		})
	}
}

func remove(es []entry, name string) []entry {
	var out []entry
	for _, e := range es {
		if e.hdr.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// TestTamperBytes damages the compressed file itself: truncation at many points, flipped bytes, trailing data.
func TestTamperBytes(t *testing.T) {
	f := newFixture(t)
	good := f.write(t, f.priv)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, data []byte) string {
		p := filepath.Join(t.TempDir(), "damaged.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, frac := range []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
		n := int(float64(len(raw)) * frac)
		t.Run("truncated at "+itoa(n), func(t *testing.T) {
			want := []string{"truncated"}
			if n < 4 {
				want = []string{"not a berth bundle"}
			}
			expectRefused(t, write(t, raw[:n]), f.opts(), want...)
		})
	}
	t.Run("truncated by one byte", func(t *testing.T) {
		expectRefused(t, write(t, raw[:len(raw)-1]), f.opts(), "truncated")
	})
	for _, frac := range []float64{0.05, 0.3, 0.6, 0.95} {
		n := int(float64(len(raw)) * frac)
		t.Run("flipped compressed byte at "+itoa(n), func(t *testing.T) {
			bad := append([]byte{}, raw...)
			bad[n] ^= 0xff
			expectRefused(t, write(t, bad), f.opts())
		})
	}
	t.Run("garbage appended", func(t *testing.T) {
		expectRefused(t, write(t, append(append([]byte{}, raw...), []byte("more bytes after the end")...)), f.opts())
	})
	t.Run("plain tar", func(t *testing.T) {
		expectRefused(t, write(t, []byte("manifest.yaml\x00not compressed")), f.opts(), "not a berth bundle")
	})
}

func TestVerifySignaturePolicy(t *testing.T) {
	f := newFixture(t)
	signed := f.write(t, f.priv)
	unsigned := f.write(t, nil)
	_, stranger, _ := GenerateKey()
	byStranger := f.write(t, stranger)
	otherPub, _, _ := GenerateKey()
	cases := []struct {
		name   string
		bundle string
		opts   VerifyOptions
		want   []string // nil: accepted
	}{
		{"signed, trusted key", signed, f.opts(), nil},
		{"signed, key among several", signed, VerifyOptions{PublicKeys: []ed25519.PublicKey{otherPub, f.pub}}, nil},
		{"signed, no key given", signed, VerifyOptions{}, []string{SignaturePath, "no trusted public key"}},
		{"signed, wrong key", signed, VerifyOptions{PublicKeys: []ed25519.PublicKey{otherPub}}, []string{SignaturePath, "not a trusted key"}},
		{"signed by stranger", byStranger, f.opts(), []string{SignaturePath, "not a trusted key"}},
		{"signed by stranger, insecure", byStranger, VerifyOptions{PublicKeys: []ed25519.PublicKey{f.pub}, InsecureSkipSignature: true}, nil},
		{"unsigned", unsigned, f.opts(), []string{SignaturePath, "missing"}},
		{"unsigned, no key", unsigned, VerifyOptions{}, []string{SignaturePath, "missing"}},
		{"unsigned, insecure", unsigned, VerifyOptions{InsecureSkipSignature: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				res, err := Verify(context.Background(), tc.bundle, tc.opts)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.opts.InsecureSkipSignature && res.Signed {
					t.Fatalf("an untrusted bundle was reported as signed by a trusted key")
				}
				return
			}
			expectRefused(t, tc.bundle, tc.opts, tc.want...)
		})
	}
}

// TestVerifyInconsistentSignedManifest covers a manifest that is signed but lies about an image's layers: the
// OCI layout check must catch it.
func TestVerifyInconsistentSignedManifest(t *testing.T) {
	f := newFixture(t)
	im := &f.manifest.Images[0]
	im.Layers[0], im.Layers[1] = im.Layers[1], im.Layers[0]
	p := f.write(t, f.priv)
	expectRefused(t, p, f.opts(), BlobPath(im.Digest), "references config")
}

func expectRefused(t *testing.T, p string, opts VerifyOptions, want ...string) {
	t.Helper()
	_, err := Verify(context.Background(), p, opts)
	if err == nil {
		t.Fatalf("tampered bundle accepted")
	}
	var verr *VerifyError
	if !errors.As(err, &verr) {
		t.Fatalf("refusal is %T (%v), want *VerifyError naming the file", err, err)
	}
	msg := err.Error()
	t.Logf("refused: %s", msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("refusal %q does not mention %q", msg, w)
		}
	}
	if len(verr.Problems) == 0 || verr.Problems[0].File == "" || verr.Problems[0].Problem == "" {
		t.Errorf("refusal has no file and problem: %+v", verr)
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}
