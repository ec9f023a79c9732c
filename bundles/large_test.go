package bundles

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// synthReader yields size bytes of deterministic content that compresses about 2:1, like binaries do.
type synthReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newSynth(seed uint64, size int64) *synthReader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return &synthReader{rng: rand.NewChaCha8(s), left: size}
}

func (r *synthReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	half := len(p) / 2
	r.rng.Read(p[:half])
	for i := half; i < len(p); i++ {
		p[i] = "kubernetes binary text "[i%23]
	}
	r.left -= int64(len(p))
	return len(p), nil
}

func (r *synthReader) Close() error { return nil }

// writeLargeBundle writes a signed bundle of one big file plus many 1 MiB files, totalling about size bytes.
func writeLargeBundle(t testing.TB, dir string, size int64) (string, *fixture) {
	t.Helper()
	f := newFixture(t)
	big := size * 6 / 10
	sizes := map[string]int64{"files/big.bin": big}
	for i := int64(0); i < (size-big)>>20; i++ {
		sizes[fmt.Sprintf("files/part-%04d.bin", i)] = 1 << 20
	}
	seeds := map[string]uint64{}
	var n uint64
	for p, sz := range sizes {
		n++
		seeds[p] = n
		h := newSynth(n, sz)
		sum, err := hashReader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.manifest.Files = append(f.manifest.Files, File{Path: p, Size: sz, SHA256: sum, Mode: 0o644, Kind: KindFile})
	}
	sort.Slice(f.manifest.Files, func(i, j int) bool { return f.manifest.Files[i].Path < f.manifest.Files[j].Path })
	out := filepath.Join(dir, "large.tar")
	err := Write(context.Background(), out, f.manifest, func(file File) (io.ReadCloser, error) {
		if s, ok := seeds[file.Path]; ok {
			return newSynth(s, file.Size), nil
		}
		return io.NopCloser(bytes.NewReader(f.content[file.Path])), nil
	}, WriteOptions{SignKey: f.priv})
	if err != nil {
		t.Fatal(err)
	}
	return out, f
}

func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// TestVerifyMemoryIsBounded verifies a 1 GiB bundle (one 600 MiB file among many small ones) in a child process
// and checks the child's peak resident memory stays under 200 MB: verification streams.
func TestVerifyMemoryIsBounded(t *testing.T) {
	if p := os.Getenv("BERTH_VERIFY_CHILD"); p != "" {
		verifyChild(t, p)
		return
	}
	if testing.Short() {
		t.Skip("writes and verifies a 1 GiB bundle")
	}
	size := int64(1 << 30)
	if s := os.Getenv("BERTH_LARGE_BUNDLE_MB"); s != "" {
		mb, _ := strconv.ParseInt(s, 10, 64)
		size = mb << 20
	}
	p, f := writeLargeBundle(t, t.TempDir(), size)
	pub := t.TempDir() + "/key.pub"
	if err := WriteKeyPair(t.TempDir()+"/key", pub, f.priv); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestVerifyMemoryIsBounded$", "-test.v")
	cmd.Env = append(os.Environ(), "BERTH_VERIFY_CHILD="+p, "BERTH_VERIFY_KEY="+pub)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child verify failed: %v\n%s", err, out)
	}
	var hwm, payload int64
	var secs float64
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "verify-child peak-rss-kb=%d payload=%d seconds=%g", &hwm, &payload, &secs); err == nil {
			break
		}
	}
	if hwm == 0 {
		t.Fatalf("child did not report its memory:\n%s", out)
	}
	t.Logf("verified %d MiB in %.1fs (%.0f MB/s), peak RSS %d MiB", payload>>20, secs, float64(payload)/1e6/secs, hwm>>10)
	if hwm > 200*1000 {
		t.Fatalf("peak RSS %d kB while verifying a %d MiB bundle, want < 200 MB", hwm, size>>20)
	}
}

func verifyChild(t *testing.T, p string) {
	pub, err := LoadPublicKey(os.Getenv("BERTH_VERIFY_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Verify(context.Background(), p, VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("verify-child peak-rss-kb=%d payload=%d seconds=%g\n", peakRSS(t), res.PayloadBytes, time.Since(start).Seconds())
}

// peakRSS reads VmHWM, the process's peak resident set, in kB.
func peakRSS(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status to measure memory")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkVerify measures verification throughput (MB/s of bundle content) on a 256 MiB synthetic bundle.
func BenchmarkVerify(b *testing.B) {
	p, f := writeLargeBundle(b, b.TempDir(), 256<<20)
	b.SetBytes(f.manifest.TotalSize())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Verify(context.Background(), p, f.opts()); err != nil {
			b.Fatal(err)
		}
	}
}
