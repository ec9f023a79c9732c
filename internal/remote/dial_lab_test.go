package remote_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"
)

// TestLabDialThroughHost opens a TCP connection from cp1 to worker1's sshd on the control plane, carried inside
// cp1's SSH connection, and reads worker1's SSH banner through it.
func TestLabDialThroughHost(t *testing.T) {
	env := requireLab(t)
	e := env.executor(t, "cp1")
	target := env.inv.Host("worker1").AddressOn("management") + ":22"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := e.DialContext(ctx, "tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	banner, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("banner through cp1 = %q, %v", banner, err)
	}
	if _, err := e.DialContext(ctx, "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "through cp1") {
		t.Errorf("dial to a closed port: %v", err)
	}
}
