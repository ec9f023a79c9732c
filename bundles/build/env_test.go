package build

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// slow skips under -short.
func slow(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: " + why)
	}
}

// missing skips when a prerequisite is absent, but fails under CI=true: CI must have everything.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing (CI=true): "+format, args...)
	}
	t.Skipf("prerequisite missing: "+format, args...)
}

// requireTools checks the build machine's tools are on PATH.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing(t, "%s not on PATH (install it: hack/bundle-deps.sh)", n)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// smallBuild is the small test spec built once per test binary and shared by the tests that read it.
type smallBuild struct {
	once   sync.Once
	dir    string
	path   string
	cache  string
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	result *Result
	took   time.Duration
	err    error
}

var small = &smallBuild{}

// smallBundle returns the small spec's bundle, building it on first use with a fresh cache.
func smallBundle(t *testing.T) *smallBuild {
	t.Helper()
	slow(t, "builds a bundle with go, apt and dpkg-deb")
	requireTools(t, "go", "apt-get", "apt-cache", "dpkg-deb")
	small.once.Do(func() {
		small.dir, small.err = os.MkdirTemp("", "berth-small-bundle-")
		if small.err != nil {
			return
		}
		small.pub, small.priv, small.err = bundles.GenerateKey()
		if small.err != nil {
			return
		}
		small.cache = filepath.Join(small.dir, "cache")
		small.path = filepath.Join(small.dir, "small.tar")
		start := time.Now()
		small.result, small.err = New(Options{Spec: "testdata/small/spec.yaml", Output: small.path, SignKey: small.priv,
			CacheDir: small.cache, Builder: "test", Logger: testLogger(t)}).Run(context.Background())
		small.took = time.Since(start)
	})
	if small.err != nil {
		t.Fatalf("build the small spec: %v", small.err)
	}
	return small
}

func TestMain(m *testing.M) {
	code := m.Run()
	if small.dir != "" {
		os.RemoveAll(small.dir)
	}
	os.Exit(code)
}
