package installer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackendMaintClosesOpenConnections runs a real haproxy with the API backend's name and two servers, and sends
// it the lines SetAPIBackend sends: out of rotation, a server's open connections are closed (a keep-alive client
// moves to the other server rather than staying on one whose etcd goes away) and new ones go to the other server;
// back in rotation, new connections reach it again.
func TestBackendMaintClosesOpenConnections(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy is not installed (make deps installs it)")
		}
		t.Skip("haproxy is not installed")
	}
	// Two API servers: each answers every line with its name.
	servers := map[string]string{}
	for _, name := range []string{"cp1", "cp2"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					r := bufio.NewReader(c)
					for {
						if _, err := r.ReadString('\n'); err != nil {
							return
						}
						fmt.Fprintln(c, name)
					}
				}()
			}
		}()
		servers[name] = l.Addr().String()
	}
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frontAddr := front.Addr().String()
	front.Close()
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 1m
  timeout server 1m
frontend api
  bind %s
  default_backend %s
backend %s
  balance first
  server cp1 %s
  server cp2 %s
`, sock, frontAddr, apiBackend, apiBackend, servers["cp1"], servers["cp2"])
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", path)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// dial opens a client connection through haproxy and returns it with the server that answers on it.
	dial := func() (net.Conn, string) {
		t.Helper()
		var c net.Conn
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, err = net.Dial("tcp", frontAddr); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		who, err := askOn(c)
		if err != nil {
			t.Fatalf("a new connection through haproxy: %v\n%s", err, logs.String())
		}
		return c, who
	}
	admin := func(line string) {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintln(c, line)
		out, _ := io.ReadAll(c)
		if strings.TrimSpace(string(out)) != "" {
			t.Fatalf("haproxy answered %q to %q", out, line)
		}
	}

	open, who := dial()
	defer open.Close()
	if who != "cp1" {
		t.Fatalf("a connection went to %s, want cp1 (balance first)", who)
	}
	admin(backendCommand("cp1", BackendMaint))
	if who, err := askOn(open); err == nil {
		t.Errorf("the connection open to cp1 still answers (from %s) after cp1 went out of rotation", who)
	}
	if c, who := dial(); who != "cp2" {
		t.Errorf("a new connection went to %s while cp1 is out of rotation, want cp2", who)
	} else {
		c.Close()
	}
	admin(backendCommand("cp1", BackendReady))
	if c, who := dial(); who != "cp1" {
		t.Errorf("a new connection went to %s after cp1 is back, want cp1", who)
	} else {
		c.Close()
	}
}

// askOn sends a line on c and returns the answering server's name.
func askOn(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintln(c, "who"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}
