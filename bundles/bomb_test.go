package bundles

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// rleZeros is one zstd frame of n zero bytes (n a multiple of 128 KiB) made of RLE blocks: 4 bytes of file per
// 128 KiB of output, so 32 MiB of file decompress to 1 TiB.
func rleZeros(n int64) []byte {
	const block = 128 << 10
	out := append([]byte{}, zstdMagic...)
	out = append(out, 0x00, 13<<3) // no content size or checksum; window 8 MiB
	for left := n; left > 0; left -= block {
		hdr := uint32(block)<<3 | 1<<1 // RLE block of 128 KiB
		if left == block {
			hdr |= 1 // last block
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], hdr)
		out = append(out, b[0], b[1], b[2], 0x00)
	}
	return out
}

// compressedTar compresses a tar stream as one zstd frame.
func compressedTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Flush()
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll(tb.Bytes(), nil)
}

// verifyWithin runs Verify and fails the test when it takes longer than limit.
func verifyWithin(t *testing.T, p string, opts VerifyOptions, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := Verify(context.Background(), p, opts); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Verify still running after %s", limit)
	}
	return nil
}

// TestVerifyStopsAtDataAfterTheArchive: anyone who can change the file can append a zstd frame to a signed
// bundle. Verify refused it only after decompressing all of it: 32 MiB appended meant 1 TiB of work.
func TestVerifyStopsAtDataAfterTheArchive(t *testing.T) {
	f := newFixture(t)
	raw, err := os.ReadFile(f.write(t, f.priv))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "appended.tar")
	if err := os.WriteFile(p, append(raw, rleZeros(1<<40)...), 0o644); err != nil {
		t.Fatal(err)
	}
	err = verifyWithin(t, p, f.opts(), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "unexpected data after the end of the tar archive") {
		t.Fatalf("err = %v", err)
	}
}

// TestVerifyStopsAtMoreThanTheManifestLists: an entry the manifest does not list can be put into a signed
// bundle without touching the signature. Verify read every byte of it before moving on; it now stops as soon as
// the archive holds more than the manifest accounts for.
func TestVerifyStopsAtMoreThanTheManifestLists(t *testing.T) {
	f := newFixture(t)
	entries := readEntries(t, f.write(t, f.priv))
	var file []byte
	file = append(file, compressedTar(t, entries[:3])...)
	// The extra entry's header says 1 TiB; its content is one RLE frame, the rest of the archive another frame.
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/extra", Size: 1 << 40, Mode: 0o644})
	enc, _ := zstd.NewWriter(nil)
	file = append(file, enc.EncodeAll(hdr.Bytes(), nil)...) // WriteHeader wrote every header block (PAX: the size needs it)
	file = append(file, rleZeros(1<<40)...)
	var rest bytes.Buffer
	tw = tar.NewWriter(&rest)
	for _, e := range entries[3:] {
		h := e.hdr
		tw.WriteHeader(&h)
		tw.Write(e.data)
	}
	tw.Close()
	file = append(file, enc.EncodeAll(rest.Bytes(), nil)...)
	p := filepath.Join(t.TempDir(), "extra.tar")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	err := verifyWithin(t, p, f.opts(), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "more than "+ManifestPath+" lists") {
		t.Fatalf("err = %v", err)
	}
}
