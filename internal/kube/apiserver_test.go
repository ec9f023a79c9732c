package kube

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAPI is a TLS HTTP server speaking just enough of the Kubernetes API for the wire-level tests of the
// client: discovery of core/v1, listing nodes, listing Secrets (always none), and getting, server-side applying
// and creating ConfigMaps. Several
// servers share one store, the way API servers share etcd. It records every request.
type fakeAPI struct {
	name  string
	srv   *httptest.Server
	store *fakeStore
}

type fakeStore struct {
	mu      sync.Mutex
	objects map[string]map[string]any // by path
	rv      int
	seen    []seenRequest
}

type seenRequest struct {
	Server, Method, Path, Query, ContentType, Auth string
	Body                                           string
}

// startFakeAPI starts an API server with a certificate for testVIP from ca, serving HTTP/2 like a real one.
func startFakeAPI(t *testing.T, name string, ca *testCA, store *fakeStore) *fakeAPI {
	t.Helper()
	a := &fakeAPI{name: name, store: store}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.srv.EnableHTTP2 = true
	a.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.tlsCert(t, name, testVIP)}}
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

func newFakeStore() *fakeStore { return &fakeStore{objects: map[string]map[string]any{}} }

// requests returns the requests a server (or all, with "") received, but discovery's.
func (s *fakeStore) requests(server string) []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []seenRequest
	for _, r := range s.seen {
		if (server == "" || r.Server == server) && r.Path != "/api" && r.Path != "/apis" && r.Path != "/api/v1" {
			out = append(out, r)
		}
	}
	return out
}

func (a *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := a.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, seenRequest{Server: a.name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), Auth: r.Header.Get("Authorization"), Body: string(body)})
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	notFound := map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
	switch p := r.URL.Path; {
	case p == "/api":
		reply(200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"}})
	case p == "/apis":
		reply(200, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{}})
	case p == "/api/v1":
		reply(200, map[string]any{"kind": "APIResourceList", "groupVersion": "v1", "resources": []any{
			map[string]any{"name": "nodes", "namespaced": false, "kind": "Node", "verbs": []string{"get", "list"}},
			map[string]any{"name": "configmaps", "namespaced": true, "kind": "ConfigMap",
				"verbs": []string{"get", "list", "create", "patch"}},
		}})
	case p == "/api/v1/nodes" && r.Method == http.MethodGet:
		reply(200, map[string]any{"kind": "NodeList", "apiVersion": "v1", "items": []any{
			map[string]any{"metadata": map[string]any{"name": "served-by-" + a.name}}}})
	case strings.HasPrefix(p, "/api/v1/namespaces/") && strings.HasSuffix(p, "/secrets") && r.Method == http.MethodGet:
		reply(200, map[string]any{"kind": "SecretList", "apiVersion": "v1", "items": []any{}}) // no Helm history
	case strings.HasPrefix(p, "/api/v1/namespaces/") && strings.Contains(p, "/configmaps"):
		switch r.Method {
		case http.MethodGet:
			if obj, ok := s.objects[p]; ok {
				reply(200, obj)
				return
			}
			reply(404, notFound)
		case http.MethodPost, http.MethodPatch:
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err != nil {
				reply(400, map[string]any{"kind": "Status", "status": "Failure", "message": err.Error(), "code": 400})
				return
			}
			if r.Method == http.MethodPost {
				p += "/" + obj["metadata"].(map[string]any)["name"].(string)
			}
			s.rv++
			meta := obj["metadata"].(map[string]any)
			meta["resourceVersion"] = fmt.Sprint(s.rv)
			meta["generation"] = s.rv
			meta["managedFields"] = []any{map[string]any{"manager": r.URL.Query().Get("fieldManager"), "operation": "Apply"}}
			if r.URL.Query().Get("dryRun") != "All" {
				s.objects[p] = obj
			}
			reply(200, obj)
		default:
			reply(405, map[string]any{"kind": "Status", "status": "Failure", "code": 405})
		}
	default:
		reply(404, notFound)
	}
}

// testKubeconfig is an admin kubeconfig whose server is the VIP, trusting ca, with a bearer token.
func testKubeconfig(ca *testCA) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://%s:6443
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: test-admin-token
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, testVIP, base64.StdEncoding.EncodeToString(ca.PEM))
}
