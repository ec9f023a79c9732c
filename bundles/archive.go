package bundles

import (
	"archive/tar"
	"fmt"
	"io"
)

// archive reads the entries of one verified bundle file in order, for the readers of a Bundle. A full bundle is
// one archive; a patch bundle is two, the patch's and its base's. seek skips forward to the entry asked for and
// reopens the file when the entry lies behind the current position, which only happens when a patch reads the
// same base entry twice or base content that moved to a path sorting earlier: each costs one more pass over the
// base, and the readers never hold more than one entry's buffer in memory.
type archive struct {
	path   string
	digest string            // of manifest.yaml when the bundle was verified
	holds  func(string) bool // the entries the verified archive has
	files  int               // how many entries it has after the signature, and their size: the stream's budget
	size   int64
	s      *stream
	pos    string      // the last entry handed out or skipped; "" at the start
	head   *tar.Header // the first entry after the signature, not yet consumed; nil once consumed or at the end
	fresh  bool        // head is valid
}

// reopen (re)starts reading the file: the manifest must be the verified one; the signature is skipped.
func (a *archive) reopen() error {
	a.close()
	s, err := openStream(a.path)
	if err != nil {
		return err
	}
	h, err := s.next()
	if err != nil || h.Name != ManifestPath {
		s.close()
		return fmt.Errorf("read bundle %s: the first entry is no longer %s; the file changed since it was verified (verify it again)", a.path, ManifestPath)
	}
	data, err := readSmall(s, h, maxManifestSize)
	if err != nil {
		s.close()
		return err
	}
	if d := digestOf(data); d != a.digest {
		s.close()
		return fmt.Errorf("read bundle %s: %s changed since the bundle was verified (%s, now %s); verify it again", a.path, ManifestPath, a.digest, d)
	}
	s.allow(a.files, a.size)
	h, err = s.nextOrEnd()
	if err == nil && h != nil && h.Name == SignaturePath {
		h, err = s.nextOrEnd()
	}
	if err != nil {
		s.close()
		return err
	}
	a.s, a.head, a.fresh, a.pos = s, h, true, ""
	return nil
}

// seek returns a reader over the entry called name, skipping the entries before it.
func (a *archive) seek(name string) (io.Reader, error) {
	if a.s == nil || (a.pos != "" && a.pos >= name) {
		if err := a.reopen(); err != nil {
			return nil, err
		}
	}
	for {
		var h *tar.Header
		if a.fresh {
			h, a.fresh = a.head, false
		} else {
			var err error
			if h, err = a.s.nextOrEnd(); err != nil {
				return nil, err
			}
		}
		// Verify checked that the entries are in manifest order, so passing name means it is gone.
		if h == nil || h.Name > name {
			return nil, fmt.Errorf("read bundle %s: %s is missing; the file changed since it was verified (verify it again)", a.path, name)
		}
		a.pos = h.Name
		if !a.holds(h.Name) || h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("read bundle %s: entry %s is not in the verified manifest; the file changed since it was verified (verify it again)", a.path, h.Name)
		}
		if h.Name == name {
			return a.s.read(), nil
		}
	}
}

// close releases the stream, if open.
func (a *archive) close() {
	if a.s != nil {
		a.s.close()
		a.s = nil
	}
}

// contentReader hands out the content of a bundle's files, in manifest order, from whichever archive holds each.
type contentReader struct {
	bundle *Bundle
	own    *archive
	base   *archive   // nil for a full bundle
	plan   *patchPlan // nil for a full bundle
}

// newContentReader prepares to read b; nothing is opened until the first file is asked for.
func (b *Bundle) newContentReader() *contentReader {
	m := b.Manifest
	r := &contentReader{bundle: b, own: &archive{path: b.Path, digest: b.ManifestDigest, files: len(m.Files), size: m.TotalSize(),
		holds: func(p string) bool { _, ok := m.FileByPath(p); return ok }}}
	if b.WithoutBase {
		r.plan = planCarried(m, b.carried)
		r.own.files, r.own.size, r.own.holds = len(r.plan.carried), r.plan.carriedBytes, r.plan.carries
		return r
	}
	if b.Base == nil {
		return r
	}
	bm := b.Base.Manifest
	r.plan = planPatch(m, bm)
	r.own.files, r.own.size, r.own.holds = len(r.plan.carried), r.plan.carriedBytes, r.plan.carries
	r.base = &archive{path: b.Base.Path, digest: b.Base.ManifestDigest, files: len(bm.Files), size: bm.TotalSize(),
		holds: func(p string) bool { _, ok := bm.FileByPath(p); return ok }}
	return r
}

// open returns a reader over f's content, unchecked: callers wrap it in a checkedReader or check it as they copy.
// Files must be asked for in manifest order for each archive to be read once.
func (r *contentReader) open(f File) (io.Reader, error) {
	if r.plan == nil {
		return r.own.seek(f.Path)
	}
	ref, ok := r.plan.source[f.Path]
	if !ok {
		return nil, fmt.Errorf("read bundle %s: %s is not in its manifest", r.bundle.Path, f.Path)
	}
	if ref.absent || (ref.base && r.base == nil) {
		return nil, fmt.Errorf("read bundle %s: %s (sha256 %s) is not in it: the patch takes it from its base %s, which was not given; "+
			"pass the base with --base", r.bundle.Path, f.Path, f.SHA256, r.bundle.Manifest.Base)
	}
	if ref.base {
		return r.base.seek(ref.path)
	}
	return r.own.seek(ref.path)
}

// close releases both archives.
func (r *contentReader) close() {
	r.own.close()
	if r.base != nil {
		r.base.close()
	}
}
