package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// cache is the build cache: a content store of blobs and small JSON records keyed by a digest of their inputs.
//
//	<dir>/blobs/sha256/<hex>     image blobs (layers, configs, manifests), content-addressed
//	<dir>/go/mod/<key>/          wrapper modules (go.mod, go.sum) for module builds
//	<dir>/go/bin/<key>/          built commands, with done.json listing their digests
//	<dir>/debs/                  downloaded .debs, named as apt names them
//	<dir>/records/<kind>/<key>.json  results of expensive steps (layers, images, charts)
type cache struct{ dir string }

// DefaultCacheDir is ~/.cache/berth/bundle (or $XDG_CACHE_HOME/berth/bundle).
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory: %w", err)
	}
	return filepath.Join(base, "berth", "bundle"), nil
}

// key returns a hex digest of the JSON encoding of parts: the cache key of a step's inputs.
func key(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		if err := enc.Encode(p); err != nil {
			panic(fmt.Sprintf("cache key of %T: %v", p, err)) // inputs are plain data; cannot fail
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c cache) path(parts ...string) string {
	return filepath.Join(append([]string{c.dir}, parts...)...)
}

// blobPath is where a blob lives in the content store.
func (c cache) blobPath(digest string) string {
	return c.path("blobs", "sha256", trimAlgo(digest))
}

func trimAlgo(digest string) string {
	if len(digest) > 7 && digest[:7] == "sha256:" {
		return digest[7:]
	}
	return digest
}

// hasBlob reports whether the store holds the blob.
func (c cache) hasBlob(digest string) bool {
	_, err := os.Stat(c.blobPath(digest))
	return err == nil
}

// putBlob stores data and returns its digest and size.
func (c cache) putBlob(data []byte) (string, int64, error) {
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if c.hasBlob(digest) {
		return digest, int64(len(data)), nil
	}
	if err := writeAtomic(c.blobPath(digest), data); err != nil {
		return "", 0, err
	}
	return digest, int64(len(data)), nil
}

// blobWriter streams a new blob into the store, hashing it; commit moves it to its digest's name.
type blobWriter struct {
	c    cache
	f    *os.File
	h    io.Writer
	sum  func() []byte
	size int64
}

func (c cache) newBlob() (*blobWriter, error) {
	dir := c.path("blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create blob store: %w", err)
	}
	f, err := os.CreateTemp(dir, ".new-*")
	if err != nil {
		return nil, fmt.Errorf("create blob: %w", err)
	}
	h := sha256.New()
	return &blobWriter{c: c, f: f, h: h, sum: func() []byte { return h.Sum(nil) }}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	return n, err
}

// commit closes the blob and names it by its digest.
func (w *blobWriter) commit() (string, int64, error) {
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	digest := "sha256:" + hex.EncodeToString(w.sum())
	if err := os.Rename(w.f.Name(), w.c.blobPath(digest)); err != nil {
		os.Remove(w.f.Name())
		return "", 0, fmt.Errorf("store blob: %w", err)
	}
	return digest, w.size, nil
}

// abort discards an unfinished blob.
func (w *blobWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// record reads a JSON record; false when absent or unreadable (then the step runs again).
func (c cache) record(kind, k string, v any) bool {
	data, err := os.ReadFile(c.path("records", kind, k+".json"))
	if err != nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

// putRecord writes a JSON record.
func (c cache) putRecord(kind, k string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cache record: %w", err)
	}
	return writeAtomic(c.path("records", kind, k+".json"), data)
}

// writeAtomic writes data to p through a temporary file and a rename.
func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".new-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// fileDigest returns the sha256 hex and size of a file.
func fileDigest(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
