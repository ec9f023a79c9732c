package kube

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// twoControlPlanes starts two API servers sharing a store, each behind its own tunnel, and a client of them.
func twoControlPlanes(t *testing.T) (*Client, *fakeTunnel, *fakeTunnel, *fakeStore, *logBuffer) {
	t.Helper()
	ca := newTestCA(t)
	store := newFakeStore()
	a, b := startFakeAPI(t, "a", ca, store), startFakeAPI(t, "b", ca, store)
	cp1 := &fakeTunnel{host: "cp1", target: a.srv.Listener.Addr().String()}
	cp2 := &fakeTunnel{host: "cp2", target: b.srv.Listener.Addr().String()}
	log := &logBuffer{}
	c, err := New(Options{Kubeconfig: testKubeconfig(ca), Tunnels: []Tunnel{cp1.tunnel(), cp2.tunnel()},
		Logger: log.logger(), Timeout: 10 * time.Second, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, cp1, cp2, store, log
}

// servedBy lists nodes and returns which API server answered.
func servedBy(t *testing.T, c *Client) string {
	t.Helper()
	list, err := c.Clientset().CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	return strings.TrimPrefix(list.Items[0].Name, "served-by-")
}

func TestClientFailsOverWhenAControlPlaneStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(*fakeTunnel)
		how  []string // the log line that shows which part failed over
	}{
		// The connection is gone from the pool: the next request dials, and the dial fails over.
		{"its SSH connection closes", (*fakeTunnel).cut, []string{"failing over", "dial " + testVIP + ":6443 through cp1"}},
		// The request fails on the pooled connection: the transport retries it through the next tunnel.
		{"its SSH connection dies unnoticed", (*fakeTunnel).breakSilently, []string{"retrying through the next control plane", "GET", "failed=cp1"}},
		// A new connection opens through the tunnel but its TLS handshake never completes: the transport retries
		// the request through the next tunnel.
		{"its host goes mute after the dial", (*fakeTunnel).goMute, []string{"retrying through the next control plane", "GET", "failed=cp1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cp1, _, store, log := twoControlPlanes(t)
			if got := servedBy(t, c); got != "a" || c.Via() != "cp1" {
				t.Fatalf("served by %s via %s, want a via cp1", got, c.Via())
			}
			if got := cp1.asked[0]; got != testVIP+":6443" {
				t.Errorf("the tunnel was asked for %s, want the kubeconfig's server", got)
			}
			if r := store.requests("a"); r[0].Auth != "Bearer test-admin-token" {
				t.Errorf("Authorization %q: the kubeconfig's credentials were not sent", r[0].Auth)
			}
			tc.kill(cp1)
			if got := servedBy(t, c); got != "b" || c.Via() != "cp2" {
				t.Fatalf("after cp1 stopped: served by %s via %s, want b via cp2", got, c.Via())
			}
			wantLog(t, log, "failing over", "host=cp1", "next=cp2")
			wantLog(t, log, tc.how...)
			if got := servedBy(t, c); got != "b" {
				t.Errorf("the request after that was served by %s", got)
			}
		})
	}
}

func TestApplyIsRetriedThroughTheNextTunnel(t *testing.T) {
	c, cp1, _, store, log := twoControlPlanes(t)
	ctx := context.Background()
	if err := c.Apply(ctx, configMap("one", "1")); err != nil {
		t.Fatal(err)
	}
	cp1.breakSilently()
	if err := c.Apply(ctx, configMap("two", "2")); err != nil {
		t.Fatalf("apply after cp1 died: %v", err)
	}
	var patches []seenRequest
	for _, r := range store.requests("b") {
		if r.Method == http.MethodPatch {
			patches = append(patches, r)
		}
	}
	if len(patches) != 1 || !strings.Contains(patches[0].Body, `"two"`) {
		t.Fatalf("server b received %d patches (%+v), want the apply of ConfigMap two", len(patches), patches)
	}
	if c.Via() != "cp2" {
		t.Errorf("via %s, want cp2", c.Via())
	}
	wantLog(t, log, "control plane down", "host=cp1")
}

// TestPostIsRetriedOnlyWhenItCanBe sends a POST on a connection through a tunnel that died unnoticed: one whose
// body net/http cannot read again must fail (the caller decides), one with GetBody that never reached a server is
// sent through the next tunnel. Either way the request after it goes through the next tunnel.
func TestPostIsRetriedOnlyWhenItCanBe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    func(string) io.Reader
		retried bool
	}{
		// A reader that is neither a bytes.Reader nor a strings.Reader: net/http cannot read it again (no GetBody).
		{"without GetBody", func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }, false},
		{"with GetBody", func(s string) io.Reader { return strings.NewReader(s) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cp1, _, store, log := twoControlPlanes(t)
			hc, err := rest.HTTPClientFor(c.RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			api := "https://" + testVIP + ":6443/api/v1"
			get := func() string {
				t.Helper()
				resp, err := hc.Get(api + "/nodes")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b)
			}
			if body := get(); !strings.Contains(body, "served-by-a") {
				t.Fatalf("first request: %s", body)
			}
			cp1.breakSilently()
			req, err := http.NewRequest(http.MethodPost, api+"/namespaces/default/configmaps",
				tc.body(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"once"}}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if (req.GetBody != nil) != tc.retried {
				t.Fatalf("GetBody set: %v; the test needs the opposite", req.GetBody != nil)
			}
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			var posts []string
			for _, r := range store.requests("") {
				if r.Method == http.MethodPost {
					posts = append(posts, r.Server)
				}
			}
			if tc.retried && (err != nil || len(posts) != 1 || posts[0] != "b") {
				t.Errorf("POST: %v; received by %q, want b once", err, posts)
			}
			if tc.retried {
				wantLog(t, log, "retrying through the next control plane", "method=POST", "failed=cp1")
			}
			if !tc.retried && (err == nil || len(posts) != 0) {
				t.Errorf("POST: %v; received by %q, want a failure and no server receiving it", err, posts)
			}
			if body := get(); !strings.Contains(body, "served-by-b") {
				t.Errorf("the request after the POST did not go through cp2: %s", body)
			}
		})
	}
}
