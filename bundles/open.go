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
//
// A patch bundle opened with its base (OpenPatch, or Open with VerifyOptions.Base) is a Bundle like any other: its
// Manifest is the full release's, and Walk, Extract and WriteImageArchive take each file from whichever of the two
// files holds it, checked against the same manifest. Base says where the rest comes from.
type Bundle struct {
	// Path is the bundle file.
	Path string
	// Manifest is the verified manifest.
	Manifest *Manifest
	// ManifestDigest is "sha256:<hex>" of manifest.yaml: what journals record as the bundle's identity. A patch
	// and the full bundle of the same release have different digests (the patch's manifest names its base).
	ManifestDigest string
	// Signed and KeyID tell whether and by which trusted key the manifest was signed.
	Signed bool
	KeyID  string
	// Base is the verified full bundle that completes a patch bundle; nil for a full bundle. Manifest.Base names it.
	Base *Bundle
	// WithoutBase says a patch bundle was opened without its base (VerifyOptions.WithoutBase): its readers hand out
	// only the content it carries, and Holds tells which files those are.
	WithoutBase bool
	carried     map[string]string // sha256 -> entry path, when WithoutBase
}

// Open verifies the bundle at path (see Verify) and returns it for reading. A patch bundle needs its base in
// opts.Base; without it Open returns a *NeedsBaseError naming the base.
func Open(ctx context.Context, path string, opts VerifyOptions) (*Bundle, error) {
	res, err := Verify(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return res.bundle(path, opts.Base), nil
}

// OpenPatch verifies the patch bundle at patchPath against the full bundle at basePath (see Verify) and returns
// the release they make together. It is Open with opts.Base set; a full bundle at patchPath opens as itself, the
// base unused. An installer or upgrade that accepts "-b PATCH --base OLD" needs only:
//
//	b, err := bundles.OpenPatch(ctx, patch, base, verify) // base "" for a full bundle: the same as Open
//	// b.Manifest, b.Walk, b.Extract, b.WriteImageArchive as for a full bundle; b.Base is the base when patched.
func OpenPatch(ctx context.Context, patchPath, basePath string, opts VerifyOptions) (*Bundle, error) {
	opts.Base = basePath
	return Open(ctx, patchPath, opts)
}

// bundle makes the Bundle a successful verification describes.
func (res *VerifyResult) bundle(path, basePath string) *Bundle {
	b := &Bundle{Path: path, Manifest: res.Manifest, ManifestDigest: res.ManifestDigest, Signed: res.Signed, KeyID: res.KeyID,
		WithoutBase: res.WithoutBase, carried: res.carried}
	if res.Base != nil {
		b.Base = res.Base.bundle(basePath, "")
	}
	return b
}

// Holds reports whether b's readers can hand out the file at path: every listed file of a full bundle or of a patch
// opened with its base; for a patch opened without it, those whose content the patch carries.
func (b *Bundle) Holds(path string) bool {
	f, ok := b.Manifest.FileByPath(path)
	if !ok || !b.WithoutBase {
		return ok
	}
	_, carried := b.carried[f.SHA256]
	return carried
}

// AsBase names b as the base of patches made against it (see WriteOptions.Base).
func (b *Bundle) AsBase() BaseRef {
	return BaseRef{ManifestDigest: b.ManifestDigest, Name: b.Manifest.Name, Version: b.Manifest.Version}
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

// walk reads the selected files in manifest order, from whichever archive holds each.
func (b *Bundle) walk(ctx context.Context, sel map[string]bool, fn func(File, io.Reader) error) error {
	r := b.newContentReader()
	defer r.close()
	for _, file := range b.Manifest.Files {
		if !sel[file.Path] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read bundle %s: %w", b.Path, err)
		}
		content, err := r.open(file)
		if err != nil {
			return err
		}
		cr := &checkedReader{r: content, h: sha256.New(), want: file}
		if err := fn(file, cr); err != nil {
			return err
		}
		if !cr.done {
			return fmt.Errorf("read bundle %s: %s was not read to its end", b.Path, file.Path)
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
