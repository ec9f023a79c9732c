package airgap

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berthsh/berth/internal/registrytest"
)

// notifyingRegistry runs a real registry that reports its pushes to url, as berth's User registry push listeners
// report them to the sync service on their host.
func notifyingRegistry(t *testing.T, url string) *registrytest.Registry {
	root := filepath.Join(t.TempDir(), "data")
	return registrytest.Run(t, registrytest.Options{Config: func(addr string) []byte {
		return fmt.Appendf(nil, `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
notifications:
  endpoints:
    - name: berth-sync
      url: %s
      timeout: 2s
      threshold: 3
      backoff: 1s
      ignore:
        actions: [pull]
`, root, addr, url)
	}})
}

// pushRandom pushes a new image to repo:tag on the registry and returns its digest.
func pushRandom(t *testing.T, addr, ref string) string {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(addr+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// servedDigest is the digest the replica serves for ref, "" when it does not serve it.
func servedDigest(addr, ref string) string {
	r, err := name.ParseReference(addr+"/"+ref, name.Insecure)
	if err != nil {
		return ""
	}
	d, err := remote.Head(r)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// waitServed waits (at most bound) until the registry serves ref with digest and returns how long that took.
func waitServed(t *testing.T, addr, ref, digest string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for servedDigest(addr, ref) != digest {
		if time.Since(start) > bound {
			t.Fatalf("%s does not serve %s with %s after %s (it serves %q)", addr, ref, digest, bound, servedDigest(addr, ref))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestSyncService runs the sync service against two real registries that report their pushes to it: a push to one
// reaches the other soon after (the registry's notification starts the round), a push made while the other is
// stopped reaches it once it is back (the periodic round), repository paths are kept as pushed, and a round with
// nothing to do copies nothing.
func TestSyncService(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs two registries")
	}
	// The registries report to whichever service runs: first one whose periodic round never comes (only a
	// notification can start its rounds after the first), then one with a round every 2 s.
	var current atomic.Pointer[SyncService]
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().Handler().ServeHTTP(w, r)
	}))
	defer events.Close()
	a := notifyingRegistry(t, events.URL)
	b := notifyingRegistry(t, events.URL)
	replicas := []Replica{{Name: "user on reg1", Addr: a.Addr, PlainHTTP: true}, {Name: "user on reg2", Addr: b.Addr, PlainHTTP: true}}
	rounds := make(chan SyncRound, 100)
	start := func(every time.Duration) (stop func()) {
		svc := &SyncService{Replicas: replicas, Every: every, Settle: 100 * time.Millisecond, OnRound: func(r SyncRound, err error) {
			if err != nil {
				t.Logf("round: %v", err)
			}
			select {
			case rounds <- r:
			default:
			}
		}}
		current.Store(svc)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		select { // the first round, at the start
		case <-rounds:
		case <-time.After(30 * time.Second):
			t.Fatal("the service made no round when it started")
		}
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}

	stop := start(time.Hour)
	d1 := pushRandom(t, a.Addr, "payments/api:1")
	took := waitServed(t, b.Addr, "payments/api:1", d1, 30*time.Second)
	t.Logf("a push to one replica served by the other %s later", took.Round(time.Millisecond))
	d2 := pushRandom(t, b.Addr, "docker.io/library/app:2") // the other way, under an upstream's path
	waitServed(t, a.Addr, "docker.io/library/app:2", d2, 30*time.Second)
	stop()

	stop = start(2 * time.Second)
	defer stop()
	b.Stop()
	d3 := pushRandom(t, a.Addr, "payments/api:3")
	sawAway := false
	for !sawAway {
		select {
		case r := <-rounds:
			sawAway = r.Reachable == 1 && len(r.Unreachable) == 1 && strings.Contains(r.Unreachable[0], "user on reg2")
		case <-time.After(30 * time.Second):
			t.Fatal("no round reported the stopped replica as unreachable")
		}
	}
	b.Start()
	took = waitServed(t, b.Addr, "payments/api:3", d3, 30*time.Second)
	t.Logf("a push made while a replica was away served there %s after it came back", took.Round(time.Millisecond))
	for _, ref := range []string{"payments/api:1", "docker.io/library/app:2"} {
		if servedDigest(a.Addr, ref) != servedDigest(b.Addr, ref) || servedDigest(a.Addr, ref) == "" {
			t.Errorf("%s: the replicas serve %q and %q", ref, servedDigest(a.Addr, ref), servedDigest(b.Addr, ref))
		}
	}

	round, err := SyncReplicas(context.Background(), replicas, 1000)
	if err != nil || round.Changes() != 0 || round.Reachable != 2 {
		t.Errorf("a round on replicas in step: %+v %v; want 2 reachable and nothing copied", round, err)
	}
}

// TestSyncReplicasConflict: a tag that two replicas serve with different digests is reported with both, and left
// alone on each; the other tags are copied.
func TestSyncReplicasConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs two registries")
	}
	ctx := context.Background()
	a := Replica{Name: "user on reg1", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true}
	b := Replica{Name: "user on reg2", Addr: registrytest.Start(t, registrytest.Options{}), PlainHTTP: true}
	da := pushRandom(t, a.Addr, "team/app:1")
	db := pushRandom(t, b.Addr, "team/app:1")
	other := pushRandom(t, a.Addr, "team/app:2")
	round, err := SyncReplicas(ctx, []Replica{a, b}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(round.Conflicts) != 1 || !strings.Contains(round.Conflicts[0], da) || !strings.Contains(round.Conflicts[0], db) {
		t.Errorf("conflicts %q; want team/app:1 with %s and %s", round.Conflicts, da, db)
	}
	if servedDigest(a.Addr, "team/app:1") != da || servedDigest(b.Addr, "team/app:1") != db {
		t.Error("a conflicting tag was overwritten")
	}
	if servedDigest(b.Addr, "team/app:2") != other || round.Changes() != 1 {
		t.Errorf("team/app:2 not copied to reg2 (round %+v)", round)
	}
	if _, err := SyncReplicas(ctx, []Replica{{Name: "gone", Addr: "127.0.0.1:1", PlainHTTP: true}}, 10); err == nil {
		t.Error("a round with no replica answering succeeded")
	}
}

// TestSyncServiceHandler: the notification endpoint takes POSTed envelopes, only a manifest push starts a round,
// and GET says the service runs.
func TestSyncServiceHandler(t *testing.T) {
	svc := &SyncService{}
	h := svc.Handler()
	post := func(body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body)))
		return rec.Code
	}
	kicked := func() bool {
		select {
		case <-svc.kick:
			return true
		default:
			return false
		}
	}
	if code := post(`{"events":[{"action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json"}}]}`); code != 200 || kicked() {
		t.Errorf("a pull: %d, kicked %v", code, kicked())
	}
	if code := post(`{"events":[{"action":"push","target":{"mediaType":"application/octet-stream"}}]}`); code != 200 || kicked() {
		t.Errorf("a blob push: %d", code)
	}
	if code := post(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a","tag":"1"}}]}`); code != 200 || !kicked() {
		t.Errorf("a manifest push did not start a round (%d)", code)
	}
	if code := post(`not json`); code != http.StatusBadRequest {
		t.Errorf("a body that is no envelope: %d", code)
	}
	for method, want := range map[string]int{http.MethodGet: http.StatusOK, http.MethodPut: http.StatusMethodNotAllowed} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/events", nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", method, rec.Code, want)
		}
	}
}

const goodSyncConfig = `{"registry":"user","listen":"127.0.2.2:5001","caFile":"/etc/berth/registry/user/ca.crt",
"username":"push","password":"pw","replicas":[{"name":"user on reg1","addr":"10.0.4.11:5001"},
{"name":"user on reg2","addr":"10.0.4.12:5001"}],"every":"30s"}`

// TestParseSyncConfig: the sync service starts only from a whole, sane configuration, and says what is wrong.
func TestParseSyncConfig(t *testing.T) {
	if _, err := ParseSyncConfig([]byte(goodSyncConfig)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"listen":"127.0.2.2:5001"`, `"listen":"10.0.4.11:5001"`, "not a loopback address"},
		{`"every":"30s"`, `"every":"10ms"`, "1s or more"},
		{`"password":"pw"`, `"password":""`, "username and password"},
		{`"10.0.4.12:5001"`, `"10.0.4.11:5001"`, "listed twice"},
		{`"caFile":"/etc`, `"caFile":"etc`, "absolute"},
		{`"every"`, `"evry"`, "unknown field"},
		{`{"name":"user on reg1","addr":"10.0.4.11:5001"},`, ``, "nothing to keep in step"},
	} {
		_, err := ParseSyncConfig([]byte(strings.Replace(goodSyncConfig, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: %v; want %q", tc.from, tc.to, err, tc.want)
		}
	}
	if _, err := ParseSyncConfig(make([]byte, maxSyncConfig+1)); err == nil {
		t.Error("an oversized configuration was read")
	}
	p := filepath.Join(t.TempDir(), "sync.json")
	if err := os.WriteFile(p, []byte(goodSyncConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSyncConfig(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable configuration with credentials: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSyncConfig(p); err != nil {
		t.Error(err)
	}
}

func FuzzParseSyncConfig(f *testing.F) {
	f.Add([]byte(goodSyncConfig))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseSyncConfig(data)
		if err != nil {
			return
		}
		if len(c.Replicas) < 2 || c.Username == "" || c.Password == "" {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
	})
}
