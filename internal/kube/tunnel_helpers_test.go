package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testVIP is the address the test kubeconfigs and certificates name: nothing on this machine answers on it, so a
// request that arrives proves it went through a tunnel.
const testVIP = "10.255.0.1"

// fakeTunnel stands in for a control plane's SSH connection: it opens real TCP connections to target whatever
// address it is asked for (like a VIP that leads to the host's API server), and can die the two ways an SSH
// connection does: at once (every channel closes) or unnoticed (the channels fail when next used).
type fakeTunnel struct {
	host   string
	target string

	mu     sync.Mutex
	down   bool
	hang   bool // dials block until their context ends
	mute   bool // dials succeed, and the connection never answers (a host going down)
	dials  int
	asked  []string
	opened []*flakyConn
}

func (f *fakeTunnel) tunnel() Tunnel { return Tunnel{Host: f.host, Dial: f.dial} }

func (f *fakeTunnel) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.dials++
	f.asked = append(f.asked, addr)
	down, hang, mute := f.down, f.hang, f.mute
	f.mu.Unlock()
	if mute {
		c, _ := net.Pipe() // nothing ever reads the other end
		return c, nil
	}
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if down {
		return nil, fmt.Errorf("ssh: connection to %s lost", f.host)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, f.target)
	if err != nil {
		return nil, err
	}
	fc := &flakyConn{Conn: c}
	f.mu.Lock()
	f.opened = append(f.opened, fc)
	f.mu.Unlock()
	return fc, nil
}

// cut kills the tunnel at once: its connections close and dials fail.
func (f *fakeTunnel) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	for _, c := range f.opened {
		c.Close()
	}
}

// goMute makes the tunnel's connections close and new ones open but never answer: a host on its way down, whose
// SSH server still opens channels.
func (f *fakeTunnel) goMute() {
	f.cut()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.mute = false, true
}

// breakSilently kills the tunnel unnoticed: dials fail, and open connections fail when next written to.
func (f *fakeTunnel) breakSilently() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	for _, c := range f.opened {
		c.broken.Store(true)
	}
}

func (f *fakeTunnel) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

// flakyConn is a connection that can be broken without being closed.
type flakyConn struct {
	net.Conn
	broken atomic.Bool
}

func (c *flakyConn) Write(p []byte) (int, error) {
	if c.broken.Load() {
		c.Conn.Close()
		return 0, errors.New("ssh: channel closed: the connection was lost")
	}
	return c.Conn.Write(p)
}

// logBuffer collects what a logger writes, for tests to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// wantLog fails the test unless the log has a line holding every part.
func wantLog(t *testing.T, log *logBuffer, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(log.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no log line holds %q; the log:\n%s", parts, log.String())
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
