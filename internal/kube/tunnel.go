package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DialFunc opens a connection to addr, the way net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Tunnel is a control plane host and a dialer that opens TCP connections from that host, carried inside its SSH
// connection (remote.Executor.DialContext).
type Tunnel struct {
	Host string
	Dial DialFunc
}

// Defaults of the failover between tunnels.
const (
	DefaultDialTimeout = 10 * time.Second // bounds one dial through one tunnel
	DefaultDownFor     = 30 * time.Second // how long a tunnel host that failed is passed over
)

// failover dials through the first tunnel, in order of preference, whose host is not marked down. A host is
// marked down when a dial through it fails or times out, or when a request on a connection through it fails
// (failoverTransport); it is passed over until downFor has passed, unless every host is down, when all are tried
// again in order rather than failing without a try.
type failover struct {
	tunnels     []Tunnel
	dialTimeout time.Duration
	downFor     time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu        sync.Mutex
	current   int         // index of the tunnel the last successful dial went through
	downUntil []time.Time // per tunnel
}

func newFailover(tunnels []Tunnel, dialTimeout, downFor time.Duration, log *slog.Logger) *failover {
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	if downFor <= 0 {
		downFor = DefaultDownFor
	}
	return &failover{tunnels: tunnels, dialTimeout: dialTimeout, downFor: downFor, log: log, now: time.Now,
		downUntil: make([]time.Time, len(tunnels))}
}

// via returns the host of the tunnel in use.
func (f *failover) via() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tunnels[f.current].Host
}

// order returns the indexes of the tunnels to try: those up in order of preference, then those down.
func (f *failover) order() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var up, down []int
	for i := range f.tunnels {
		if now.Before(f.downUntil[i]) {
			down = append(down, i)
		} else {
			up = append(up, i)
		}
	}
	return append(up, down...)
}

// dial opens a connection to addr through the first tunnel that manages to, marking down the hosts that fail or
// hang. A host whose SSH server refuses to open the connection (it cannot reach addr) is not marked down: it is up.
func (f *failover) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var errs []error
	for _, i := range f.order() {
		t := f.tunnels[i]
		dctx, cancel := context.WithTimeout(ctx, f.dialTimeout)
		conn, err := t.Dial(dctx, network, addr)
		timedOut := dctx.Err() != nil
		cancel()
		if err == nil {
			f.use(i)
			return &tunnelConn{Conn: conn, host: t.Host}, nil
		}
		if ctx.Err() != nil {
			// The caller gave up: that says nothing about the host.
			return nil, fmt.Errorf("dial %s through %s: %w", addr, t.Host, ctx.Err())
		}
		if timedOut {
			err = fmt.Errorf("no connection after %s: %w", f.dialTimeout, err)
		}
		err = fmt.Errorf("dial %s through %s: %w", addr, t.Host, err)
		errs = append(errs, err)
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			// The host's SSH server answered but could not reach addr (refused, unreachable): the host is up,
			// and another host may reach addr.
			f.log.Debug("tunnel host cannot reach the address", "host", t.Host, "addr", addr, "error", err)
			continue
		}
		f.markDown(t.Host, err)
	}
	return nil, errors.Join(errs...)
}

// use records that tunnel i works; it becomes the one requests go through.
func (f *failover) use(i int) {
	f.mu.Lock()
	prev := f.current
	f.current = i
	f.downUntil[i] = time.Time{}
	f.mu.Unlock()
	if prev != i {
		f.log.Info("kubernetes API reached through another control plane", "via", f.tunnels[i].Host,
			"previously", f.tunnels[prev].Host)
	}
}

// markDown passes host over for downFor. It logs once per outage, naming the host that will be tried next.
func (f *failover) markDown(host string, cause error) {
	f.mu.Lock()
	now := f.now()
	i := f.index(host)
	if i < 0 {
		f.mu.Unlock()
		return
	}
	already := now.Before(f.downUntil[i])
	f.downUntil[i] = now.Add(f.downFor)
	next := ""
	for j, t := range f.tunnels {
		if !now.Before(f.downUntil[j]) {
			next = t.Host
			break
		}
	}
	f.mu.Unlock()
	if already {
		return
	}
	if next == "" {
		f.log.Info("kubernetes API: control plane down; every tunnel has failed, all will be tried again",
			"host", host, "error", cause)
		return
	}
	f.log.Info("kubernetes API: control plane down, failing over", "host", host, "next", next,
		"for", f.downFor, "error", cause)
}

func (f *failover) index(host string) int {
	for i, t := range f.tunnels {
		if t.Host == host {
			return i
		}
	}
	return -1
}

// tunnelConn is a connection opened through a tunnel; it remembers the tunnel's host, so that a request failing on
// it marks the right host down.
type tunnelConn struct {
	net.Conn
	host string
}

// NetConn returns the connection the tunnel handed out.
func (c *tunnelConn) NetConn() net.Conn { return c.Conn }

// tunnelHost returns the host of the tunnel a connection (possibly wrapped in TLS) was opened through.
func tunnelHost(conn net.Conn) string {
	for conn != nil {
		if tc, ok := conn.(*tunnelConn); ok {
			return tc.host
		}
		w, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return ""
		}
		conn = w.NetConn()
	}
	return ""
}
