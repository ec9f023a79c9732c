package bundles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Bundle is a bundle file that has been verified. Its methods stream the file again and re-check every byte they
// hand out, so a file changed after Open is caught, never used.
type Bundle struct {
	// Path is the bundle file.
	Path string
	// Manifest is the verified manifest.
	Manifest *Manifest
	// ManifestDigest is "sha256:<hex>" of manifest.yaml: what journals record as the bundle's identity.
	ManifestDigest string
	// Signed and KeyID tell whether and by which trusted key the manifest was signed.
	Signed bool
	KeyID  string
}

// Open verifies the bundle at path (see Verify) and returns it for reading.
func Open(ctx context.Context, path string, opts VerifyOptions) (*Bundle, error) {
	res, err := Verify(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &Bundle{Path: path, Manifest: res.Manifest, ManifestDigest: res.ManifestDigest, Signed: res.Signed, KeyID: res.KeyID}, nil
}

// Filter selects files of a bundle. A file is selected when it matches any non-empty criterion; the zero Filter
// selects every file.
type Filter struct {
	// Paths are exact bundle paths ("bin/kubeadm") or directory prefixes ending in "/" ("packages/debian-12/").
	Paths []string
	// Kinds selects whole kinds of files (KindBinary, KindCNI, KindPackage, ...).
	Kinds []FileKind
	// Images selects the blobs of these images, by ref ("registry.k8s.io/pause:3.10") or manifest name.
	Images []string
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool { return len(f.Paths) == 0 && len(f.Kinds) == 0 && len(f.Images) == 0 }

// selection resolves a filter against a manifest into the set of selected paths.
func (b *Bundle) selection(f Filter) (map[string]bool, []Image, error) {
	images, err := b.images(f.Images)
	if err != nil {
		return nil, nil, err
	}
	sel := map[string]bool{}
	for _, im := range images {
		for _, d := range im.Blobs() {
			sel[BlobPath(d)] = true
		}
	}
	for _, file := range b.Manifest.Files {
		if f.IsZero() {
			sel[file.Path] = true
			continue
		}
		for _, k := range f.Kinds {
			if file.Kind == k {
				sel[file.Path] = true
			}
		}
		for _, p := range f.Paths {
			if p == file.Path || (strings.HasSuffix(p, "/") && strings.HasPrefix(file.Path, p)) {
				sel[file.Path] = true
			}
		}
	}
	for _, p := range f.Paths {
		if _, ok := b.Manifest.FileByPath(p); !ok && !strings.HasSuffix(p, "/") {
			return nil, nil, fmt.Errorf("bundle %s has no file %s (see berth bundle inspect)", b.Path, p)
		}
	}
	return sel, images, nil
}

// images looks up image refs in the manifest.
func (b *Bundle) images(refs []string) ([]Image, error) {
	var out []Image
	seen := map[string]bool{}
	for _, r := range refs {
		im, ok := b.Manifest.Image(r)
		if !ok {
			return nil, fmt.Errorf("bundle %s has no image %s (see berth bundle inspect)", b.Path, r)
		}
		if !seen[im.Digest] {
			seen[im.Digest] = true
			out = append(out, im)
		}
	}
	return out, nil
}

// Walk streams the bundle and calls fn for each selected file, in bundle order, with a reader over its content.
// The reader fails at its end when the content does not match the manifest; fn must read it to the end (or
// return an error) and must return that failure. The manifest is checked to be the one Open verified.
func (b *Bundle) Walk(ctx context.Context, f Filter, fn func(File, io.Reader) error) error {
	sel, _, err := b.selection(f)
	if err != nil {
		return err
	}
	return b.walk(ctx, sel, fn)
}

func (b *Bundle) walk(ctx context.Context, sel map[string]bool, fn func(File, io.Reader) error) error {
	s, err := openStream(b.Path)
	if err != nil {
		return err
	}
	defer s.close()
	h, err := s.next()
	if err != nil || h.Name != ManifestPath {
		return fmt.Errorf("read bundle %s: the first entry is no longer %s; the file changed since it was verified", b.Path, ManifestPath)
	}
	data, err := readSmall(s, h, maxManifestSize)
	if err != nil {
		return err
	}
	if digestOf(data) != b.ManifestDigest {
		return fmt.Errorf("read bundle %s: %s changed since the bundle was verified (%s, now %s); verify it again", b.Path, ManifestPath, b.ManifestDigest, digestOf(data))
	}
	s.allow(b.Manifest)
	remaining := len(sel)
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read bundle %s: %w", b.Path, err)
		}
		h, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !sel[h.Name] {
			continue
		}
		file, ok := b.Manifest.FileByPath(h.Name)
		if !ok {
			return fmt.Errorf("read bundle %s: %s is not in the verified manifest; the file changed since it was verified", b.Path, h.Name)
		}
		delete(sel, h.Name)
		remaining--
		r := &checkedReader{r: s.read(), h: sha256.New(), want: file}
		if err := fn(file, r); err != nil {
			return err
		}
		if !r.done {
			return fmt.Errorf("read bundle %s: %s was not read to its end", b.Path, file.Path)
		}
	}
	if remaining > 0 {
		for p := range sel {
			return fmt.Errorf("read bundle %s: %s is missing; the file changed since it was verified", b.Path, p)
		}
	}
	return nil
}

// ErrContentMismatch is returned by a Walk reader whose content does not match the manifest.
var ErrContentMismatch = errors.New("content does not match the manifest")

// checkedReader hashes what it reads and fails at EOF when size or sha256 differ from the manifest.
type checkedReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want File
	done bool
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.want.Size || got != c.want.SHA256 {
			return n, fmt.Errorf("%s: %w (sha256 %s, %d bytes; manifest %s, %d bytes)", c.want.Path, ErrContentMismatch, got, c.n, c.want.SHA256, c.want.Size)
		}
		c.done = true
	}
	return n, err
}
