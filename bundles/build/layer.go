package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// epoch is the time of every entry in assembled layers and of every assembled image config: images built twice
// from the same inputs are byte-identical.
var epoch = time.Unix(0, 0).UTC()

// layerEntry is one path in a layer.
type layerEntry struct {
	Path   string // relative, slash-separated, no leading "/"
	Type   byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	Mode   int64
	Link   string // symlink target
	Source string // regular file: path on disk, or
	Data   []byte // regular file: content
}

// layerSet collects entries; later entries for a path replace earlier ones, and missing parent directories
// are added.
type layerSet map[string]layerEntry

func (s layerSet) add(e layerEntry) {
	e.Path = strings.TrimPrefix(path.Clean("/"+e.Path), "/")
	if e.Path == "" {
		return
	}
	for dir := path.Dir(e.Path); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := s[dir]; !ok {
			s[dir] = layerEntry{Path: dir, Type: tar.TypeDir, Mode: 0o755}
		}
	}
	s[e.Path] = e
}

// writeLayer writes the entries as an uncompressed tar, sorted by path, with root ownership and fixed times,
// into the blob store and returns its digest (which is also its diff ID) and size.
func (b *Builder) writeLayer(s layerSet) (string, int64, error) {
	paths := make([]string, 0, len(s))
	for p := range s {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	bw, err := b.cache.newBlob()
	if err != nil {
		return "", 0, err
	}
	tw := tar.NewWriter(bw)
	for _, p := range paths {
		if err := writeLayerEntry(tw, s[p]); err != nil {
			bw.abort()
			return "", 0, err
		}
	}
	if err := tw.Close(); err != nil {
		bw.abort()
		return "", 0, fmt.Errorf("write layer: %w", err)
	}
	return bw.commit()
}

func writeLayerEntry(tw *tar.Writer, e layerEntry) error {
	hdr := &tar.Header{Typeflag: e.Type, Name: e.Path, Mode: e.Mode, ModTime: epoch, Format: tar.FormatPAX}
	var r io.Reader
	switch e.Type {
	case tar.TypeDir:
		hdr.Name += "/"
	case tar.TypeSymlink:
		hdr.Linkname = e.Link
	case tar.TypeReg:
		if e.Source != "" {
			f, err := os.Open(e.Source)
			if err != nil {
				return fmt.Errorf("write layer entry %s: %w", e.Path, err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("write layer entry %s: %w", e.Path, err)
			}
			hdr.Size, r = st.Size(), f
		} else {
			hdr.Size, r = int64(len(e.Data)), bytes.NewReader(e.Data)
		}
	default:
		return fmt.Errorf("write layer entry %s: unsupported type %q", e.Path, e.Type)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write layer entry %s: %w", e.Path, err)
	}
	if r != nil {
		if _, err := io.Copy(tw, r); err != nil {
			return fmt.Errorf("write layer entry %s: %w", e.Path, err)
		}
	}
	return nil
}

// baseLayer is the small layer every assembled image starts with (unless noBase): the files programs expect
// from a system, identical in every image so the blob is stored once.
func baseLayer() layerSet {
	s := layerSet{}
	s.add(layerEntry{Path: "etc/passwd", Type: tar.TypeReg, Mode: 0o644,
		Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")})
	s.add(layerEntry{Path: "etc/group", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")})
	s.add(layerEntry{Path: "etc/nsswitch.conf", Type: tar.TypeReg, Mode: 0o644, Data: []byte("hosts: files dns\n")})
	s.add(layerEntry{Path: "tmp", Type: tar.TypeDir, Mode: 0o1777})
	s.add(layerEntry{Path: "root", Type: tar.TypeDir, Mode: 0o700})
	s.add(layerEntry{Path: "var/run", Type: tar.TypeSymlink, Link: "../run"})
	s.add(layerEntry{Path: "run", Type: tar.TypeDir, Mode: 0o755})
	return s
}
