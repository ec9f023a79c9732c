package airgap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthsh/berth/bundles"
)

// Cache holds what was extracted from one bundle on the machine running berth: its host files, its image blobs
// (each staged on its own, by content, so that a host that holds an image's layer from another bundle is not sent
// it again), and the OCI index of each image set.
type Cache struct {
	Dir     string
	Indexes map[string]Index // image set name -> its index.json
}

// Index is the OCI index.json of one image set, written from the bundle's manifest.
type Index struct {
	Path   string
	SHA256 string
	Size   int64
}

// PrepareCache extracts the host files and image blobs of the bundle (those it holds: a patch opened without its
// base holds what it carries) into base/<manifest digest> and writes one
// OCI index per image set (sets; none: the two of ImageSets with nothing pulled), once per bundle: a second run with
// the same bundle reuses them. It marks the directory used now (its modification time), which is how ListCaches
// and PruneCaches order caches.
func PrepareCache(ctx context.Context, b *bundles.Bundle, base string, sets ...ImageSet) (*Cache, error) {
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
	kinds := []bundles.FileKind{bundles.KindBinary, bundles.KindCNI, bundles.KindPackage, bundles.KindImageBlob, bundles.KindFile}
	filter := bundles.Filter{Kinds: kinds}
	if b.WithoutBase {
		// A patch without its base holds only what it carries; the nodes must hold the rest (Stage checks).
		filter = bundles.Filter{}
		for _, f := range FilesOf(b.Manifest, kinds...) {
			if b.Holds(f.Path) {
				filter.Paths = append(filter.Paths, f.Path)
			}
		}
	}
	if !filter.IsZero() { // zero: a patch that carries none of these kinds
		if _, err := b.Extract(ctx, dir, filter); err != nil {
			return nil, fmt.Errorf("extract bundle: %w", err)
		}
	}

	// Caches of berth before blob staging held an image archive per set; nothing reads them now.
	for _, old := range []string{"images-control-plane.tar", "images-node.tar"} {
		os.Remove(filepath.Join(dir, old))
		os.Remove(filepath.Join(dir, old+".sha256"))
	}
	c := &Cache{Dir: dir, Indexes: map[string]Index{}}
	if len(sets) == 0 {
		cp, node := ImageSets(b.Manifest, nil)
		sets = []ImageSet{cp, node}
	}
	for _, set := range sets {
		data, err := b.Manifest.OCIIndex(set.Images)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, "index-"+set.Name+".json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
		c.Indexes[set.Name] = Index{Path: p, SHA256: SHA256(data), Size: int64(len(data))}
	}
	return c, nil
}

// BlobPath returns where the cache holds a blob of the bundle ("sha256:<hex>").
func (c *Cache) BlobPath(digest string) string {
	return filepath.Join(c.Dir, filepath.FromSlash(bundles.BlobPath(digest)))
}
