package build

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// containerd is a private containerd (own root, state and socket) started for one test.
type containerd struct {
	sock string
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	requireTools(t, "containerd", "ctr", "containerd-shim-runc-v2", "runc")
	dir, err := os.MkdirTemp("", "berth-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &containerd{sock: filepath.Join(dir, "c.sock")}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, c.sock+".ttrpc", filepath.Join(dir, "opt"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.ctr("version"); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(log.Name())
			t.Fatalf("containerd did not answer on %s:\n%s", c.sock, tail(string(data), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *containerd) ctr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// TestImageArchiveImportsIntoContainerd exports the small bundle's images as the OCI archive the installer will
// stream to hosts, imports it into a real containerd (the Debian 1.6 this machine has) with `ctr images import`,
// and runs the assembled images: the Go binary, and iptables from the unpacked .debs.
func TestImageArchiveImportsIntoContainerd(t *testing.T) {
	sb := smallBundle(t)
	c := startContainerd(t)
	ctx := context.Background()
	b, err := bundles.Open(ctx, sb.path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{sb.pub}})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{"registry.k8s.io/pause:3.10", "berth.test/pause:latest", "berth.test/hello:v1"}
	if err := b.WriteImageArchive(ctx, f, refs...); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := c.ctr("images", "import", archive); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("ctr images import:\n%s", out)
	}
	list, err := c.ctr("images", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if !strings.Contains(list, r) {
			t.Errorf("containerd lists %q, missing %s", list, r)
		}
	}
	im, _ := b.Manifest.Image("berth.test/hello:v1")
	if full, _ := c.ctr("images", "ls"); !strings.Contains(full, im.Digest) {
		t.Errorf("containerd has hello under another digest than the bundle's %s:\n%s", im.Digest, full)
	}
	out, err := c.ctr("run", "--rm", "berth.test/hello:v1", fmt.Sprintf("hello-%d", time.Now().UnixNano()))
	if err != nil || !strings.Contains(out, "Hello") {
		t.Fatalf("run hello image: %v\n%s", err, out)
	}
	out, err = c.ctr("run", "--rm", "berth.test/hello:v1", fmt.Sprintf("ipt-%d", time.Now().UnixNano()), "/usr/sbin/iptables", "--version")
	if err != nil || !strings.Contains(out, "nf_tables") {
		t.Fatalf("iptables in the image: %v\n%s", err, out)
	}
	t.Logf("iptables in the assembled image: %s", strings.TrimSpace(out))
}
