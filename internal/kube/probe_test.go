package kube

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAPIReady(t *testing.T) {
	var ready atomic.Bool
	var sawCredentials atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.TLS == nil || len(r.TLS.PeerCertificates) > 0 {
			sawCredentials.Store(true)
		}
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nreadyz check failed\n"))
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	cp1 := &fakeTunnel{host: "cp1", target: srv.Listener.Addr().String()}
	endpoint := testVIP + ":6443"
	cond := APIReady(endpoint, cp1.dial)

	done, status := check(t, cond)
	if done || !strings.Contains(status, "500") || !strings.Contains(status, "etcd failed: reason withheld") {
		t.Errorf("not ready: %v %q", done, status)
	}
	ready.Store(true)
	if done, status = check(t, cond); !done || status != "API server "+endpoint+" is ready" {
		t.Errorf("ready: %v %q", done, status)
	}
	if cp1.asked[0] != endpoint {
		t.Errorf("dialled %s, want %s through the tunnel", cp1.asked[0], endpoint)
	}
	if sawCredentials.Load() {
		t.Error("the probe sent credentials")
	}
	cp1.cut()
	if done, status = check(t, cond); done || !strings.Contains(status, "cp1") {
		t.Errorf("tunnel down: %v %q", done, status)
	}
}
