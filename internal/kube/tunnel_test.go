package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// listen starts a TCP server on loopback that accepts and holds connections, for the dialer's tests.
func listen(t *testing.T) string {
	t.Helper()
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
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

func TestFailoverDial(t *testing.T) {
	target := listen(t)
	t.Run("passes over a failed host until it has been down for downFor", func(t *testing.T) {
		cp1, cp2 := &fakeTunnel{host: "cp1", target: target, down: true}, &fakeTunnel{host: "cp2", target: target}
		var log logBuffer
		f := newFailover([]Tunnel{cp1.tunnel(), cp2.tunnel()}, time.Second, 30*time.Second, log.logger())
		now := time.Now()
		f.now = func() time.Time { return now }

		conn, err := f.dial(context.Background(), "tcp", testVIP+":6443")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if got := tunnelHost(conn); got != "cp2" || f.via() != "cp2" {
			t.Errorf("dialled through %q, via %q; want cp2", got, f.via())
		}
		wantLog(t, &log, "failing over", "host=cp1", "next=cp2", "ssh: connection to cp1 lost")
		wantLog(t, &log, "reached through another control plane", "via=cp2", "previously=cp1")
		if cp2.asked[0] != testVIP+":6443" {
			t.Errorf("the tunnel was asked for %q, want the VIP", cp2.asked[0])
		}

		cp1.mu.Lock()
		cp1.down = false
		cp1.mu.Unlock()
		if _, err := f.dial(context.Background(), "tcp", testVIP+":6443"); err != nil {
			t.Fatal(err)
		}
		if cp1.dialCount() != 1 || f.via() != "cp2" {
			t.Errorf("cp1 was dialled %d times while marked down (want 1), via %s", cp1.dialCount(), f.via())
		}

		now = now.Add(31 * time.Second)
		if _, err := f.dial(context.Background(), "tcp", testVIP+":6443"); err != nil {
			t.Fatal(err)
		}
		if f.via() != "cp1" {
			t.Errorf("via %s after cp1's down time passed, want cp1 (first in preference)", f.via())
		}
	})

	t.Run("a hanging dial times out and the next tunnel is used", func(t *testing.T) {
		cp1, cp2 := &fakeTunnel{host: "cp1", target: target, hang: true}, &fakeTunnel{host: "cp2", target: target}
		f := newFailover([]Tunnel{cp1.tunnel(), cp2.tunnel()}, 200*time.Millisecond, time.Minute, discard())
		start := time.Now()
		conn, err := f.dial(context.Background(), "tcp", testVIP+":6443")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if took := time.Since(start); took > 5*time.Second || f.via() != "cp2" {
			t.Errorf("took %s, via %s; want cp2 after about the dial timeout", took, f.via())
		}
	})

	t.Run("when every host is down all are tried again", func(t *testing.T) {
		cp1, cp2 := &fakeTunnel{host: "cp1", target: target, down: true}, &fakeTunnel{host: "cp2", target: target, down: true}
		f := newFailover([]Tunnel{cp1.tunnel(), cp2.tunnel()}, time.Second, time.Minute, discard())
		_, err := f.dial(context.Background(), "tcp", testVIP+":6443")
		if err == nil || !strings.Contains(err.Error(), "cp1") || !strings.Contains(err.Error(), "cp2") {
			t.Fatalf("got %v, want an error naming both hosts", err)
		}
		cp2.mu.Lock()
		cp2.down = false
		cp2.mu.Unlock()
		if _, err := f.dial(context.Background(), "tcp", testVIP+":6443"); err != nil {
			t.Fatalf("both marked down, cp2 back: %v", err)
		}
		if cp1.dialCount() != 2 {
			t.Errorf("cp1 dialled %d times, want 2 (tried again in order when all are down)", cp1.dialCount())
		}
	})

	t.Run("a host that cannot reach the address is not marked down", func(t *testing.T) {
		refuses := Tunnel{Host: "cp1", Dial: func(context.Context, string, string) (net.Conn, error) {
			// What remote.Executor.DialContext returns when sshd cannot connect to the address.
			return nil, fmt.Errorf("dial 10.0.0.3:2379 through cp1: %w",
				&ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: "Connection refused"})
		}}
		cp2 := &fakeTunnel{host: "cp2", target: target}
		var log logBuffer
		f := newFailover([]Tunnel{refuses, cp2.tunnel()}, time.Second, time.Minute, log.logger())
		if _, err := f.dial(context.Background(), "tcp", "10.0.0.3:2379"); err != nil {
			t.Fatal(err)
		}
		if !f.downUntil[0].IsZero() || strings.Contains(log.String(), "control plane down") {
			t.Errorf("cp1 marked down because the address refused it:\n%s", log.String())
		}
	})

	t.Run("a caller giving up marks nothing down", func(t *testing.T) {
		cp1 := &fakeTunnel{host: "cp1", target: target, hang: true}
		f := newFailover([]Tunnel{cp1.tunnel()}, time.Minute, time.Minute, discard())
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := f.dial(ctx, "tcp", testVIP+":6443"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the caller's deadline", err)
		}
		if o := f.order(); len(o) != 1 || !f.downUntil[0].IsZero() {
			t.Errorf("cp1 marked down until %v after the caller gave up", f.downUntil[0])
		}
	})
}
