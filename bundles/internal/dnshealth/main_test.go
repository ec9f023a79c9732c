package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort returns a port free on 127.0.0.1 for both UDP and TCP (probed, then released).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// startDnsmasq runs a real dnsmasq on 127.0.0.1:port that answers name with addr.
func startDnsmasq(t *testing.T, port int, name, addr string) {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dnsmasq is not installed (make deps installs it)")
		}
		t.Skip("dnsmasq is not installed")
	}
	cmd := exec.Command(bin, "--keep-in-foreground", "--pid-file=", "--user=root", "--log-facility=-",
		"--bind-interfaces", "--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--no-resolv", "--no-hosts",
		fmt.Sprintf("--address=/%s/%s", name, addr))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSidecarAgainstDnsmasq runs the sidecar against a real dnsmasq (one server answering right, one answering the
// wrong address, one absent) and checks every endpoint.
func TestSidecarAgainstDnsmasq(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsmasq and the sidecar; skipped under -short")
	}
	const name = "kubernetes.default.svc.cluster.local"
	good, wrong, absent, listen := freePort(t), freePort(t), freePort(t), freePort(t)
	startDnsmasq(t, good, name, "10.96.0.1")
	startDnsmasq(t, wrong, name, "10.96.0.2")

	bin := filepath.Join(t.TempDir(), "dnshealth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, fmt.Sprintf("--listen=127.0.0.1:%d", listen), "--name="+name, "--expect=10.96.0.1",
		"--interval=200ms", "--timeout=1s", "--stale=2s",
		fmt.Sprintf("--check=good=127.0.0.1:%d", good), fmt.Sprintf("--check=wrong=127.0.0.1:%d", wrong),
		fmt.Sprintf("--check=absent=127.0.0.1:%d", absent))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", listen)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := tryGet(base + "/readyz/good"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the good server never became ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // past --stale: the absent server is no longer alive

	tests := []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz/good", 200, "10.96.0.1"},
		{"/readyz/wrong", 503, "not 10.96.0.1"},
		{"/readyz/absent", 503, "no answer"},
		{"/readyz", 503, "good"},
		{"/livez/good", 200, "good"},
		{"/livez/wrong", 200, "wrong"}, // it answers, wrongly: alive, not ready
		{"/livez/absent", 503, "absent"},
		{"/readyz/nosuch", 404, "no check named"},
		{"/status", 200, `"lastAnswered"`},
	}
	for _, tt := range tests {
		code, body := get(t, base+tt.path)
		if code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, code, body, tt.code, tt.body)
		}
	}
}

func tryGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestWaitFree runs the init container's mode: it waits while something listens and exits once nothing does.
func TestWaitFree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sidecar; skipped under -short")
	}
	bin := filepath.Join(t.TempDir(), "dnshealth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cmd := exec.Command(bin, "--wait-free="+l.Addr().String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("exited (%v) while the port was taken", err)
	case <-time.After(1500 * time.Millisecond):
	}
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still waiting 10s after the port was freed")
	}
}
