package bundles

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berthsh/berth/internal/digest"
)

// Validate checks that the manifest is internally consistent: files sorted, unique and inside the bundle; every
// image, package and chart pointing at files that are listed with the same digest. It does not read the bundle.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.APIVersion != APIVersion || m.Kind != ManifestKind {
		bad("apiVersion/kind is %q/%q, this berth reads %q/%q (use the berth release that built the bundle)",
			m.APIVersion, m.Kind, APIVersion, ManifestKind)
	}
	if b := m.Base; b != nil {
		hex, ok := strings.CutPrefix(b.ManifestDigest, "sha256:")
		if !ok || !digest.ValidHex(hex) {
			bad("base: manifestDigest %q is not sha256:<64 hex>", b.ManifestDigest)
		}
	}
	for i, f := range m.Files {
		if !validPath(f.Path) {
			bad("files[%d]: path %q is not a clean relative path inside the bundle", i, f.Path)
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			bad("files[%d]: %q is out of order or listed twice (files must be sorted and unique)", i, f.Path)
		}
		if !digest.ValidHex(f.SHA256) {
			bad("files[%d] %s: sha256 %q is not 64 lower-case hex digits", i, f.Path, f.SHA256)
		}
		if f.Size < 0 {
			bad("files[%d] %s: negative size", i, f.Path)
		}
		if rest, ok := strings.CutPrefix(f.Path, ImagesDir+"blobs/sha256/"); ok && rest != f.SHA256 {
			bad("files[%d] %s: blob name and sha256 %s differ", i, f.Path, f.SHA256)
		}
	}
	if len(errs) > 0 {
		// The lookups below need sorted, unique files.
		return joinProblems(errs)
	}
	needFile := func(owner, p, sha string, size int64) {
		f, ok := m.FileByPath(p)
		switch {
		case !ok:
			bad("%s refers to %s, which is not in files", owner, p)
		case sha != "" && f.SHA256 != sha:
			bad("%s says %s has sha256 %s, files says %s", owner, p, sha, f.SHA256)
		case size >= 0 && f.Size != size:
			bad("%s says %s has %d bytes, files says %d", owner, p, size, f.Size)
		}
	}
	refs := map[string]string{}
	for _, im := range m.Images {
		owner := "image " + im.Name
		if len(im.Refs) == 0 {
			bad("%s has no refs", owner)
		}
		for _, r := range im.Refs {
			if prev, dup := refs[r]; dup {
				bad("ref %s is claimed by both image %s and image %s", r, prev, im.Name)
			}
			refs[r] = im.Name
		}
		for _, d := range im.Blobs() {
			hex, ok := strings.CutPrefix(d, "sha256:")
			if !ok || !digest.ValidHex(hex) {
				bad("%s: digest %q is not sha256:<64 hex>", owner, d)
				continue
			}
			needFile(owner, BlobPath(d), hex, -1)
		}
	}
	if len(m.Images) > 0 {
		needFile("images", ImagesDir+"index.json", "", -1)
		needFile("images", ImagesDir+"oci-layout", "", -1)
	}
	for _, p := range m.Packages {
		if !digest.ValidHex(p.SHA256) {
			bad("package %s: sha256 %q is not 64 lower-case hex digits", p.Name, p.SHA256)
			continue
		}
		needFile("package "+p.Name, p.Path, p.SHA256, p.Size)
	}
	for _, c := range m.Charts {
		if !digest.ValidHex(c.SHA256) {
			bad("chart %s: sha256 %q is not 64 lower-case hex digits", c.Name, c.SHA256)
			continue
		}
		needFile("chart "+c.Name, c.Path, c.SHA256, c.Size)
	}
	return joinProblems(errs)
}

func joinProblems(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
