package bundles_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// tarEntry is one entry of a bundle's archive, held in memory.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

// archiveEntries decompresses a bundle file into its entries.
func archiveEntries(t testing.TB, p string) []tarEntry {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: *h, data: data})
	}
}

// entryNames lists the entries of a bundle file in archive order.
func entryNames(t testing.TB, p string) []string {
	t.Helper()
	var out []string
	for _, e := range archiveEntries(t, p) {
		out = append(out, e.hdr.Name)
	}
	return out
}

// withEntryFlipped writes a copy of the bundle at p whose entry called name has its first byte changed (its signed
// manifest untouched) and returns the copy's path.
func withEntryFlipped(t testing.TB, p, name string) string {
	t.Helper()
	return rewriteEntries(t, p, func(e *tarEntry) bool {
		if e.hdr.Name == name {
			e.data = append([]byte{e.data[0] ^ 0xff}, e.data[1:]...)
		}
		return true
	}, name)
}

// withoutEntry writes a copy of the bundle at p without the entry called name (its signed manifest untouched) and
// returns the copy's path.
func withoutEntry(t testing.TB, p, name string) string {
	t.Helper()
	return rewriteEntries(t, p, func(e *tarEntry) bool { return e.hdr.Name != name }, name)
}

// rewriteEntries writes a copy of the bundle at p through edit (which may change an entry, and drops it by
// returning false) and returns the copy's path; the bundle must have an entry called name.
func rewriteEntries(t testing.TB, p string, edit func(*tarEntry) bool, name string) string {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	found := false
	for _, e := range archiveEntries(t, p) {
		found = found || e.hdr.Name == name
		if !edit(&e) {
			continue
		}
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("%s has no entry %s", p, name)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rewritten.tar")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
