package airgap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/digest"
)

// Cache holds what was extracted from one bundle on the machine running berth: its host files, and one image
// archive per image set.
type Cache struct {
	Dir      string
	Archives map[string]Archive // image set name -> archive
}

// Archive is an image archive (docker-archive tar) of one image set, written from the bundle.
type Archive struct {
	Path   string
	SHA256 string
	Size   int64
}

// PrepareCache extracts the host files of the bundle into base/<manifest digest> and writes one image archive per
// image set, once per bundle: a second run with the same bundle reuses them. It marks the directory used now
// (its modification time), which is how ListCaches and PruneCaches order caches.
func PrepareCache(ctx context.Context, b *bundles.Bundle, base string) (*Cache, error) {
	dir := filepath.Join(base, strings.TrimPrefix(b.ManifestDigest, "sha256:"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The directory's time says when the bundle was last used, for `berth cache prune`; marked first, so that a run
	// in progress holds the newest cache. A cache whose time cannot be set still works: the error is not the run's.
	now := time.Now()
	_ = os.Chtimes(dir, now, now)
	if err := writeCacheLabel(dir, b.Manifest); err != nil {
		return nil, err
	}
	if _, err := b.Extract(ctx, dir, bundles.Filter{Kinds: []bundles.FileKind{bundles.KindBinary, bundles.KindCNI, bundles.KindPackage}}); err != nil {
		return nil, fmt.Errorf("extract bundle: %w", err)
	}
	c := &Cache{Dir: dir, Archives: map[string]Archive{}}
	cp, node := ImageSets(b.Manifest)
	for _, set := range []ImageSet{cp, node} {
		a, err := imageArchive(ctx, b, dir, set)
		if err != nil {
			return nil, err
		}
		c.Archives[set.Name] = a
	}
	return c, nil
}

// imageArchive writes the archive of one image set (to a temporary name, renamed when complete) unless it is there.
func imageArchive(ctx context.Context, b *bundles.Bundle, dir string, set ImageSet) (Archive, error) {
	p := filepath.Join(dir, "images-"+set.Name+".tar")
	// A cached archive is reused when its recorded sha256 is one (the sum goes into host paths and shell commands);
	// anything else is written again.
	if sum, err := os.ReadFile(p + ".sha256"); err == nil && digest.ValidHex(strings.TrimSpace(string(sum))) {
		if st, err := os.Stat(p); err == nil {
			return Archive{Path: p, SHA256: strings.TrimSpace(string(sum)), Size: st.Size()}, nil
		}
	}
	tmp, err := os.CreateTemp(dir, ".images-*")
	if err != nil {
		return Archive{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	err = b.WriteImageArchive(ctx, io.MultiWriter(tmp, h), set.Refs()...)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Archive{}, fmt.Errorf("write %s image archive: %w", set.Name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), p); err != nil {
		return Archive{}, err
	}
	if err := os.WriteFile(p+".sha256", []byte(sum+"\n"), 0o600); err != nil {
		return Archive{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Archive{}, err
	}
	return Archive{Path: p, SHA256: sum, Size: st.Size()}, nil
}
