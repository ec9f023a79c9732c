package bundles

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthsh/berth/internal/localfile"
)

// ExtractResult says what Extract did.
type ExtractResult struct {
	// Written are the bundle paths written; Skipped those already present with the right content.
	Written []string
	Skipped []string
	// Bytes is how many bytes were written.
	Bytes int64
}

// Extract writes the selected files under dir, each at its bundle path (dir/bin/kubeadm, dir/images/blobs/...),
// with its manifest mode. Every file is checked against the manifest while it is written to a temporary name and
// renamed only when it matches; files already present with the right sha256 are skipped, so an interrupted
// extraction resumes. When the filter names Images, dir/images also gets an oci-layout marker and an index.json
// tagging exactly those images: a valid OCI image layout of the selection.
func (b *Bundle) Extract(ctx context.Context, dir string, f Filter) (*ExtractResult, error) {
	sel, images, err := b.selection(f)
	if err != nil {
		return nil, err
	}
	res := &ExtractResult{}
	for p := range sel {
		file, _ := b.Manifest.FileByPath(p)
		if same, _ := hasContent(filepath.Join(dir, filepath.FromSlash(p)), file.SHA256); same {
			delete(sel, p)
			res.Skipped = append(res.Skipped, p)
		}
	}
	err = b.walk(ctx, sel, func(file File, r io.Reader) error {
		n, err := writeFileAtomic(filepath.Join(dir, filepath.FromSlash(file.Path)), os.FileMode(file.Mode), r)
		if err != nil {
			return fmt.Errorf("extract %s: %w", file.Path, err)
		}
		res.Written = append(res.Written, file.Path)
		res.Bytes += n
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(images) > 0 {
		idx, err := b.Manifest.OCIIndex(images)
		if err != nil {
			return res, err
		}
		for name, data := range map[string][]byte{"index.json": idx, "oci-layout": []byte(OCILayoutFile)} {
			if _, err := writeFileAtomic(filepath.Join(dir, "images", name), 0o644, bytes.NewReader(data)); err != nil {
				return res, fmt.Errorf("extract images/%s: %w", name, err)
			}
		}
	}
	return res, nil
}

// WriteImageArchive writes an OCI image archive (a tar holding oci-layout, index.json and blobs/sha256/...) of the
// given images to w, streaming the blobs from the bundle. containerd imports it directly:
//
//	ctr -n k8s.io images import archive.tar
//
// Each image is named by its refs (io.containerd.image.name), so no --base-name or --index-name is needed.
func (b *Bundle) WriteImageArchive(ctx context.Context, w io.Writer, refs ...string) error {
	images, err := b.images(refs)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return fmt.Errorf("write image archive: no image selected")
	}
	idx, err := b.Manifest.OCIIndex(images)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range []struct {
		name string
		data []byte
	}{{"oci-layout", []byte(OCILayoutFile)}, {"index.json", idx}} {
		if err := writeEntry(tw, e.name, 0o644, bytes.NewReader(e.data), int64(len(e.data)), ""); err != nil {
			return err
		}
	}
	sel := map[string]bool{}
	for _, im := range images {
		for _, d := range im.Blobs() {
			sel[BlobPath(d)] = true
		}
	}
	err = b.walk(ctx, sel, func(file File, r io.Reader) error {
		return writeEntry(tw, strings.TrimPrefix(file.Path, ImagesDir), 0o644, r, file.Size, file.SHA256)
	})
	if err != nil {
		return fmt.Errorf("write image archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write image archive: %w", err)
	}
	return nil
}

// hasContent reports whether the file at p exists with the given sha256. Anything but a regular file has not,
// and is replaced.
func hasContent(p, sha string) (bool, error) {
	f, _, err := localfile.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == sha, nil
}

// writeFileAtomic writes r to a temporary file next to p and renames it to p when r was read without error.
func writeFileAtomic(p string, mode os.FileMode, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.partial")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}
