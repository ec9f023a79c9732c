package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
)

// droppedDirs are left out when .debs are unpacked into an image: documentation and translations nobody reads
// inside a container. Copyright files stay.
var droppedDirs = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/",
	"usr/share/lintian/", "usr/share/bug/", "usr/share/doc-base/", "usr/share/bash-completion/"}

func dropped(p string) bool {
	for _, d := range droppedDirs {
		if strings.HasPrefix(p, d) {
			return !(d == "usr/share/doc/" && path.Base(p) == "copyright")
		}
	}
	return false
}

// debLayer unpacks the data of each package (as dpkg would, without running maintainer scripts) into one layer
// set. Alternatives that maintainer scripts would create are the spec's job (image symlinks).
func (b *Builder) debLayer(ctx context.Context, pkgs []debPkg) (layerSet, error) {
	s := layerSet{}
	for _, p := range pkgs {
		if err := b.unpackDeb(ctx, p, s); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", p.FileName(), err)
		}
	}
	return s, nil
}

// unpackDeb streams `dpkg-deb --fsys-tarfile` of one package into s.
func (b *Builder) unpackDeb(ctx context.Context, p debPkg, s layerSet) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", p.File)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run dpkg-deb (the build machine needs dpkg): %w", err)
	}
	readErr := readDebTar(out, s)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return readErr
}

func readDebTar(r io.Reader, s layerSet) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" || dropped(name) || dropped(name+"/") {
			continue
		}
		mode := h.Mode & 0o7777
		switch h.Typeflag {
		case tar.TypeDir:
			if prev, ok := s[name]; !ok || prev.Type == tar.TypeDir {
				s.add(layerEntry{Path: name, Type: tar.TypeDir, Mode: mode})
			}
		case tar.TypeSymlink:
			s.add(layerEntry{Path: name, Type: tar.TypeSymlink, Link: h.Linkname})
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			s.add(layerEntry{Path: name, Type: tar.TypeReg, Mode: mode, Data: data})
		case tar.TypeLink:
			target := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
			t, ok := s[target]
			if !ok || t.Type != tar.TypeReg {
				return fmt.Errorf("hard link %s to %s, which is not an earlier regular file", name, h.Linkname)
			}
			s.add(layerEntry{Path: name, Type: tar.TypeReg, Mode: t.Mode, Data: t.Data})
		default:
			return fmt.Errorf("entry %s has unsupported tar type %q", name, h.Typeflag)
		}
	}
}
