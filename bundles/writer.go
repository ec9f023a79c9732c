package bundles

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
)

// epoch is the modification time of every entry: entries carry no build timestamps, so the same content always
// makes the same archive.
var epoch = time.Unix(0, 0).UTC()

// OpenFunc returns the content of one file listed in the manifest.
type OpenFunc func(f File) (io.ReadCloser, error)

// WriteOptions tunes how a bundle is written.
type WriteOptions struct {
	// SignKey signs manifest.yaml; nil writes an unsigned bundle that verify refuses without
	// --insecure-skip-signature.
	SignKey ed25519.PrivateKey
	// Level is the zstd level; zero means zstd.SpeedDefault.
	Level zstd.EncoderLevel
	// Base makes a patch bundle: the manifest still lists every file of the release and must name this (opened,
	// full) bundle as its base (m.Base = base.AsBase()), but the archive carries only the files whose content
	// the base lacks; open is asked for those only. Nil writes a full bundle.
	Base *Bundle
}

// Write writes the bundle for manifest m to out: manifest.yaml, its signature, then every file in manifest order
// (for a patch, see WriteOptions.Base, every file its base lacks), each read through open and checked against
// its listed size and sha256 on the way. The archive is written to a temporary name next to out and renamed when
// complete, so out is either the old bundle or the new one.
func Write(ctx context.Context, out string, m *Manifest, open OpenFunc, opts WriteOptions) (err error) {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write bundle %s: %w", out, err)
	}
	files, err := archiveFiles(m, opts.Base)
	if err != nil {
		return fmt.Errorf("write bundle %s: %w", out, err)
	}
	manifest, err := m.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.partial")
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	level := opts.Level
	if level == 0 {
		level = zstd.SpeedDefault
	}
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(level), zstd.WithWindowSize(8<<20),
		zstd.WithEncoderConcurrency(2), zstd.WithEncoderCRC(true))
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	tw := tar.NewWriter(zw)
	if err := writeEntry(tw, ManifestPath, 0o644, bytes.NewReader(manifest), int64(len(manifest)), ""); err != nil {
		return err
	}
	if opts.SignKey != nil {
		sig, err := Sign(manifest, opts.SignKey)
		if err != nil {
			return err
		}
		if err := writeEntry(tw, SignaturePath, 0o644, bytes.NewReader(sig), int64(len(sig)), ""); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		rc, err := open(f)
		if err != nil {
			return fmt.Errorf("write bundle entry %s: %w", f.Path, err)
		}
		err = writeEntry(tw, f.Path, int64(f.Mode), rc, f.Size, f.SHA256)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// archiveFiles are the files the archive of m holds: all of them, or for a patch those its base lacks.
func archiveFiles(m *Manifest, base *Bundle) ([]File, error) {
	switch {
	case base == nil && m.Base == nil:
		return m.Files, nil
	case base == nil:
		return nil, fmt.Errorf("the manifest names base %s but no base bundle was given to write a patch of it", m.Base)
	case base.Manifest.Base != nil:
		return nil, fmt.Errorf("base %s is itself a patch (of %s): make patches against a full bundle", base.Path, base.Manifest.Base)
	case m.Base == nil || *m.Base != base.AsBase():
		return nil, fmt.Errorf("a patch's manifest must name its base %s (set base to it), it names %v", base.AsBase(), m.Base)
	}
	return planPatch(m, base.Manifest).carried, nil
}

// writeEntry writes one regular file with fixed ownership and time, checking its size and (when given) sha256.
func writeEntry(tw *tar.Writer, name string, mode int64, r io.Reader, size int64, sha string) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}
	if len(name) <= 100 {
		hdr.Format = tar.FormatUSTAR
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write bundle entry %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(tw, io.TeeReader(io.LimitReader(r, size+1), h))
	if err != nil {
		return fmt.Errorf("write bundle entry %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write bundle entry %s: source has %d bytes, the manifest lists %d (the build cache changed underneath; rebuild)", name, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); sha != "" && got != sha {
		return fmt.Errorf("write bundle entry %s: source sha256 is %s, the manifest lists %s (the build cache changed underneath; rebuild)", name, got, sha)
	}
	return nil
}
