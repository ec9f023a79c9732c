package kube

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// failoverTransport retries a request that failed on a connection whose tunnel host went away. Such a failure is
// an error from the transport (never an HTTP response: those are the API's answer and go back as they are). The
// host the connection went through is marked down and idle connections are closed, so that the retry, and the
// requests after it, dial through the next tunnel.
//
// A request is retried at most once per remaining tunnel, and only when that is safe: its body can be read again
// (no body, or req.GetBody), and either its method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE and PATCH:
// berth's patches are server-side applies and label merges) or the request was never written to the connection.
type failoverTransport struct {
	next http.RoundTripper
	f    *failover
}

// wrapTransport is the rest.Config.WrapTransport of a Client: it puts failoverTransport in front of client-go's.
// A new connection counts as up once its TLS handshake is done, so the handshake gets the dial's bound: a host that
// opened the tunnel and then went down fails the attempt soon enough for the retry through the next tunnel.
func (f *failover) wrapTransport(next http.RoundTripper) http.RoundTripper {
	if ht, ok := next.(*http.Transport); ok && f.dialTimeout > 0 {
		ht.TLSHandshakeTimeout = f.dialTimeout
	}
	return &failoverTransport{next: next, f: f}
}

// WrappedRoundTripper returns the transport underneath (utilnet.RoundTripperWrapper).
func (t *failoverTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// CloseIdleConnections closes the idle connections of the transport underneath.
func (t *failoverTransport) CloseIdleConnections() { utilnet.CloseIdleConnectionsFor(t.next) }

// RoundTrip sends req, retrying it through the next tunnel when the connection under it failed.
func (t *failoverTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	attempt := req
	for tries := 1; ; tries++ {
		var seen attemptTrace
		resp, err := t.next.RoundTrip(attempt.WithContext(httptrace.WithClientTrace(attempt.Context(), seen.trace())))
		if err == nil || !connectionFailed(req, err) {
			return resp, err
		}
		host, wrote, handshake := seen.result()
		if host == "" && handshake {
			// The connection was dialled but its TLS handshake failed (a host that stopped between the two): it
			// went through the tunnel of the last dial.
			host = t.f.via()
		}
		if host == "" {
			// No connection was handed out: the dial itself failed, through every tunnel (failover.dial).
			return nil, err
		}
		t.f.markDown(host, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err))
		utilnet.CloseIdleConnectionsFor(t.next)
		if tries >= len(t.f.tunnels) || !replayable(req, wrote) {
			return nil, err
		}
		next, rerr := rewind(req)
		if rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		t.f.log.Info("kubernetes API: retrying through the next control plane", "method", req.Method,
			"path", req.URL.Path, "failed", host)
		attempt = next
	}
}

// attemptTrace records which connection an attempt got and whether the request was written to it. The
// transport may call the hooks from its own goroutines.
type attemptTrace struct {
	mu        sync.Mutex
	host      string
	wrote     bool
	handshake bool // a TLS handshake started on a new connection
}

func (a *attemptTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) {
			a.mu.Lock()
			a.host = tunnelHost(ci.Conn)
			a.mu.Unlock()
		},
		TLSHandshakeStart: func() {
			a.mu.Lock()
			a.handshake = true
			a.mu.Unlock()
		},
		WroteRequest: func(wi httptrace.WroteRequestInfo) {
			a.mu.Lock()
			a.wrote = a.wrote || wi.Err == nil
			a.mu.Unlock()
		},
	}
}

func (a *attemptTrace) result() (host string, wrote, handshake bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.host, a.wrote, a.handshake
}

// connectionFailed reports whether err is the failure of the connection under req, rather than the caller
// giving up or a certificate that no other tunnel would make valid.
func connectionFailed(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	var verify *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	return !errors.As(err, &verify) && !errors.As(err, &unknownAuthority) && !errors.As(err, &hostname)
}

// replayable reports whether sending req again cannot do harm.
func replayable(req *http.Request, wrote bool) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return !wrote
}

// rewind returns a copy of req with its body read again from the start.
func rewind(req *http.Request) (*http.Request, error) {
	next := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("read the body of %s %s again: %w", req.Method, req.URL.Path, err)
		}
		next.Body = body
	}
	return next, nil
}
