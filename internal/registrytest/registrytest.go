// Package registrytest runs a real image registry for tests: the CNCF distribution registry, built from the module
// proxy once per machine and cached under ~/.cache/berth/registry/<version>, serving on a free loopback port for
// one test. Tests that push to or pull from a registry use it rather than a fake.
package registrytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the distribution registry the tests run.
const Version = "v3.1.2"

// Binary returns the cached registry binary, building it when absent (a few minutes, once per machine). Without
// Go or the module proxy the test is skipped, or failed under CI=true: CI must have everything.
func Binary(t testing.TB) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "berth", "registry", Version)
	bin := filepath.Join(dir, "registry")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if _, err := exec.LookPath("go"); err != nil {
		missing(t, "go is not on PATH to build the registry")
	}
	t.Logf("building the distribution registry %s into %s (once per machine)", Version, dir)
	cmd := exec.Command("go", "install", "-trimpath", "github.com/distribution/distribution/v3/cmd/registry@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		missing(t, "cannot build the registry from the module proxy: %v\n%s", err, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	return bin
}

// Options shape the registry a test runs.
type Options struct {
	// ReadOnly serves pulls only: every push is refused (the registry's maintenance read-only mode).
	ReadOnly bool
	// Root is the storage directory; "" for a new one. Two registries given the same Root serve the same images.
	Root string
	// Config, when set, writes the registry's whole configuration for the address it is to listen on (ReadOnly
	// and Root are then the config's business), and Client checks it answers (with the TLS the config sets up).
	Config func(addr string) []byte
	Client *http.Client
}

// Start runs a registry on a free loopback port until the test ends and returns its host:port, once it answers
// (200, or 401 when it asks for credentials).
func Start(t testing.TB, o Options) string {
	t.Helper()
	return Run(t, o).Addr
}

// Registry is a registry a test runs, which it can stop and start again on the same address and storage (a replica
// away for a while).
type Registry struct {
	Addr string
	t    testing.TB
	o    Options
	bin  string
	cfg  string
	log  string
	cmd  *exec.Cmd
}

// Run is Start, returning the running registry.
func Run(t testing.TB, o Options) *Registry {
	t.Helper()
	r := &Registry{t: t, o: o, bin: Binary(t)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	l.Close()
	dir := t.TempDir()
	if o.Root == "" {
		o.Root = filepath.Join(dir, "data")
	}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", o.Root)
	if o.ReadOnly {
		cfg += "  maintenance:\n    readonly:\n      enabled: true\n"
	}
	cfg += fmt.Sprintf("http:\n  addr: %s\n", r.Addr)
	if o.Config != nil {
		cfg = string(o.Config(r.Addr))
	}
	r.cfg = filepath.Join(dir, "config.yml")
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.log = filepath.Join(dir, "registry.log")
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

// Start starts the registry again after Stop, on the same address and storage, and returns once it answers.
func (r *Registry) Start() {
	r.t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(r.bin, "serve", r.cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.cmd = cmd
	client, scheme := http.DefaultClient, "http"
	if r.o.Client != nil {
		client, scheme = r.o.Client, "https"
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(scheme + "://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(r.log)
			r.t.Fatalf("registry did not answer on %s: %v\n%s", r.Addr, err, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the registry; its storage stays.
func (r *Registry) Stop() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// missing skips when a prerequisite is absent, but fails under CI=true.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing (CI=true): "+format, args...)
	}
	t.Skipf("prerequisite missing: "+format, args...)
}
