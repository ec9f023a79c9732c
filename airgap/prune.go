package airgap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/digest"
	"github.com/berthsh/berth/internal/localfile"
)

// CacheEntry is what PrepareCache keeps on this machine for one bundle: its host files and image archives.
type CacheEntry struct {
	Digest   string      `json:"digest"`           // the bundle's manifest digest, sha256:<hex>
	Bundle   *CacheLabel `json:"bundle,omitempty"` // which bundle it is; nil for caches made before berth noted it
	Dir      string      `json:"dir"`              // base/<hex>
	Bytes    int64       `json:"bytes"`            // the size of every file in it
	LastUsed time.Time   `json:"lastUsed"`         // the last time an install or upgrade prepared it
}

// CacheLabel says which bundle a cache holds, for people reading `berth cache list`.
type CacheLabel struct {
	Name              string `json:"name"`
	Version           string `json:"version"`
	KubernetesVersion string `json:"kubernetesVersion"`
}

// cacheLabelFile holds a cache's CacheLabel; bundle paths never start with a dot.
const cacheLabelFile = ".berth-bundle.json"

func writeCacheLabel(dir string, m *bundles.Manifest) error {
	b, err := json.Marshal(CacheLabel{Name: m.Name, Version: m.Version, KubernetesVersion: m.KubernetesVersion})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, cacheLabelFile), append(b, '\n'), 0o600)
}

// readCacheLabel returns the label of the cache in dir, or nil when it has none that can be read.
func readCacheLabel(dir string) *CacheLabel {
	b, _, err := localfile.Read(filepath.Join(dir, cacheLabelFile), 4<<10)
	if err != nil {
		return nil
	}
	var l CacheLabel
	if json.Unmarshal(b, &l) != nil {
		return nil
	}
	return &l
}

// ListCaches lists the bundle caches under base (installer.DefaultCacheDir unless told otherwise), the most
// recently used first. Only directories named by a manifest digest are caches; anything else under base is
// neither listed nor ever removed. A base that does not exist holds no caches.
func ListCaches(base string) ([]CacheEntry, error) {
	dirents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return []CacheEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the bundle cache %s: %w", base, err)
	}
	out := []CacheEntry{}
	for _, d := range dirents {
		if !d.IsDir() || !digest.ValidHex(d.Name()) {
			continue
		}
		dir := filepath.Join(base, d.Name())
		st, err := os.Lstat(dir)
		if err != nil {
			return nil, fmt.Errorf("read the bundle cache %s: %w", base, err)
		}
		size, err := treeBytes(dir)
		if err != nil {
			return nil, fmt.Errorf("measure %s: %w", dir, err)
		}
		out = append(out, CacheEntry{Digest: "sha256:" + d.Name(), Bundle: readCacheLabel(dir), Dir: dir, Bytes: size,
			LastUsed: st.ModTime().UTC()})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastUsed.Equal(out[j].LastUsed) {
			return out[i].LastUsed.After(out[j].LastUsed)
		}
		return out[i].Digest < out[j].Digest
	})
	return out, nil
}

// treeBytes adds up the sizes of the regular files under dir, without following symbolic links.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// PruneResult is what PruneCaches removed, or would remove in a dry run, and what it kept.
type PruneResult struct {
	Dir          string       `json:"dir"`
	DryRun       bool         `json:"dryRun"`
	Kept         []CacheEntry `json:"kept"`
	Removed      []CacheEntry `json:"removed"`
	BytesFreed   int64        `json:"bytesFreed"` // the bytes of Removed: freed, or that a real run would free
	BytesAfter   int64        `json:"bytesAfter"` // the bytes of Kept
	RemoveFailed []string     `json:"removeFailed,omitempty"`
}

// PruneCaches removes the bundle caches under base except the keep most recently used. An install or upgrade
// running on this machine uses the newest cache (PrepareCache marks it used when it starts), so keep >= 1 never
// takes a cache from under a run. A dry run only says what would go. Every cache is attempted; the error names
// each that could not be removed.
func PruneCaches(base string, keep int, dryRun bool) (*PruneResult, error) {
	if keep < 0 {
		return nil, fmt.Errorf("keep %d caches: the number must be 0 or more", keep)
	}
	entries, err := ListCaches(base)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{Dir: base, DryRun: dryRun, Kept: []CacheEntry{}, Removed: []CacheEntry{}}
	var errs []error
	for i, e := range entries {
		if i < keep {
			res.Kept = append(res.Kept, e)
			res.BytesAfter += e.Bytes
			continue
		}
		if !dryRun {
			if err := os.RemoveAll(e.Dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", e.Dir, err))
				res.RemoveFailed = append(res.RemoveFailed, e.Digest)
				res.Kept = append(res.Kept, e)
				res.BytesAfter += e.Bytes
				continue
			}
		}
		res.Removed = append(res.Removed, e)
		res.BytesFreed += e.Bytes
	}
	return res, errors.Join(errs...)
}
