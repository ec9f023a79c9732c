package manifests

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// TestDNSBackendRefusesUntilSynced runs the lab bundle's CoreDNS with the Corefile the chart renders, in a network
// namespace of its own, against an API server that never answers: the backend of a DNS host that has just started
// and has not read services and endpoints yet. Once CoreDNS serves (after its own wait of 5 s) it must answer
// REFUSED, which a node's DNS cache skips for another host's answer (TestDNSCacheLosesNoQuery), and not SERVFAIL,
// which the cache would hand to the pod. The same Corefile without its rewrite answers SERVFAIL: the check can tell.
func TestDNSBackendRefusesUntilSynced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the lab bundle's CoreDNS in a network namespace")
	}
	requireTool(t, "ip")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for a network namespace")
		}
		t.Skip("needs root for a network namespace")
	}
	coredns := bundleCoreDNS(t)
	r, err := RenderDNS(testDNSValues(DNSUser))
	if err != nil {
		t.Fatal(err)
	}
	// The rendered Corefile, with only the API's address added: the API is a closed port in the namespace.
	var lines []string
	for _, l := range strings.Split(r.Corefile, "\n") {
		lines = append(lines, l)
		if strings.HasPrefix(strings.TrimSpace(l), "kubernetes ") && strings.HasSuffix(l, "{") {
			lines = append(lines, "endpoint http://127.0.0.1:9")
		}
	}
	corefile := strings.Join(lines, "\n")
	if !strings.Contains(corefile, "endpoint http") || !strings.Contains(corefile, "rewrite stop rcode") {
		t.Fatalf("the rendered Corefile is not shaped as this test expects:\n%s", r.Corefile)
	}
	without := strings.Replace(corefile, "rewrite stop rcode regex .* SERVFAIL REFUSED\n", "", 1)

	for _, c := range []struct {
		name, corefile, want string
	}{
		{"as rendered", corefile, "RCodeRefused"},
		{"without the rewrite", without, "RCodeServerFailure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := fmt.Sprintf("berth-dnsbackend-%d", os.Getpid())
			if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v\n%s", err, out)
			}
			defer exec.Command("ip", "netns", "del", ns).Run()
			if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
				t.Fatalf("lo up: %v\n%s", err, out)
			}
			path := filepath.Join(t.TempDir(), "Corefile")
			if err := os.WriteFile(path, []byte(c.corefile), 0o644); err != nil {
				t.Fatal(err)
			}
			var log lockedBuffer
			cmd := exec.Command("ip", "netns", "exec", ns, coredns, "-conf", path)
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			// CoreDNS waits up to 5 s for the API before it serves unsynced; ask until it answers at all.
			var first string
			deadline := time.Now().Add(30 * time.Second)
			for {
				failed, _, f := askN(t, ns, "127.0.0.1:10053", 1)
				if failed == 0 {
					t.Fatalf("CoreDNS answered kubernetes.default without an API:\n%s", log.String())
				}
				if strings.HasPrefix(f, "answer ") { // a DNS response, not yet a timeout or a refused connection
					first = f
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("CoreDNS did not answer in 30 s (last: %s):\n%s", f, log.String())
				}
				time.Sleep(500 * time.Millisecond)
			}
			if !strings.Contains(first, c.want) {
				t.Errorf("unsynced CoreDNS answered %q; want %s\n%s", first, c.want, log.String())
			}
			if !strings.Contains(log.String(), "unsynced Kubernetes API") {
				t.Errorf("CoreDNS did not say it serves unsynced, so this is not the case under test:\n%s", log.String())
			}
			t.Logf("unsynced CoreDNS %s: %s", c.name, first)
		})
	}
}

// bundleCoreDNS extracts the CoreDNS binary from the lab bundle's CoreDNS image into a temporary directory.
func bundleCoreDNS(t *testing.T) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	path, keyPath := os.Getenv("BERTH_BUNDLE"), os.Getenv("BERTH_BUNDLE_KEY")
	if path == "" {
		path = filepath.Join(base, "berth", "bundles", "lab-v1.31.tar")
	}
	if keyPath == "" {
		keyPath = filepath.Join(base, "berth", "keys", "bundle.pub")
	}
	_, statErr := os.Stat(path)
	pub, keyErr := bundles.LoadPublicKey(keyPath)
	if statErr != nil || keyErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the lab bundle %s or its key is missing (make bundle builds both): %v %v", path, statErr, keyErr)
		}
		t.Skipf("the lab bundle %s or its key is missing (make bundle): %v %v", path, statErr, keyErr)
	}
	ctx := context.Background()
	b, err := bundles.Open(ctx, path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	var image *bundles.Image
	for i, im := range b.Manifest.Images {
		for _, ref := range im.Refs {
			if strings.Contains(ref, "/coredns/coredns:") {
				image = &b.Manifest.Images[i]
			}
		}
	}
	if image == nil {
		t.Fatalf("the lab bundle %s has no CoreDNS image", path)
	}
	var archive bytes.Buffer
	if err := b.WriteImageArchive(ctx, &archive, image.Refs[0]); err != nil {
		t.Fatal(err)
	}
	layers := map[string]bool{}
	for _, l := range image.Layers {
		layers["blobs/sha256/"+strings.TrimPrefix(l, "sha256:")] = true
	}
	out := filepath.Join(t.TempDir(), "coredns")
	tr := tar.NewReader(&archive)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !layers[h.Name] {
			continue
		}
		if found, err := extractFromLayer(tr, "coredns", out); err != nil {
			t.Fatal(err)
		} else if found {
			return out
		}
	}
	t.Fatalf("no coredns binary in the layers of %s", image.Refs[0])
	return ""
}

// extractFromLayer writes the file called name (at the layer's root) from a layer blob, gzipped or not, to out.
func extractFromLayer(r io.Reader, name, out string) (bool, error) {
	br := bufio.NewReader(r)
	var lr io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return false, err
		}
		lr = gz
	}
	tr := tar.NewReader(lr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if strings.TrimPrefix(h.Name, "./") != name && strings.TrimPrefix(h.Name, "/") != name {
			continue
		}
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(f, io.LimitReader(tr, 512<<20)); err != nil {
			f.Close()
			return false, err
		}
		return true, f.Close()
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
