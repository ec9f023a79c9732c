package kube

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdCluster is a real etcd cluster running in the test's process, serving its clients over TLS with client
// certificates, as kubeadm's stacked etcd does. Member i listens on loopback but advertises the node address
// 10.255.1.(i+1), which nothing on this machine answers: only the cluster's dialer reaches it, the way a tunnel
// reaches a control plane's etcd.
type etcdCluster struct {
	ca        *testCA
	members   []*embed.Etcd
	stops     []func() // stop member i (once)
	endpoints []string // advertised client URLs

	mu    sync.Mutex
	dials []string
}

func nodeIP(i int) string { return fmt.Sprintf("10.255.1.%d", i+1) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startEtcd(t *testing.T, n int) *etcdCluster {
	t.Helper()
	ec := &etcdCluster{ca: newTestCA(t)}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ec.ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	clientPorts, peerPorts := make([]int, n), make([]int, n)
	var initial []string
	for i := range n {
		clientPorts[i], peerPorts[i] = freePort(t), freePort(t)
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, peerPorts[i]))
	}
	for i := range n {
		cert, key := ec.ca.issue(t, fmt.Sprintf("m%d", i), "127.0.0.1", nodeIP(i))
		certFile, keyFile := filepath.Join(dir, fmt.Sprintf("m%d.crt", i)), filepath.Join(dir, fmt.Sprintf("m%d.key", i))
		os.WriteFile(certFile, cert, 0o600)
		os.WriteFile(keyFile, key, 0o600)

		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.InitialClusterToken = "berth-test"
		cfg.InitialCluster = strings.Join(initial, ",")
		peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPorts[i])}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.ListenClientUrls = []url.URL{{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", clientPorts[i])}}
		cfg.AdvertiseClientUrls = []url.URL{{Scheme: "https", Host: fmt.Sprintf("%s:%d", nodeIP(i), clientPorts[i])}}
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: caFile, ClientCertAuth: true}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			t.Fatalf("start etcd member %d: %v", i, err)
		}
		stop := sync.OnceFunc(e.Close)
		t.Cleanup(stop)
		ec.members, ec.stops = append(ec.members, e), append(ec.stops, stop)
		ec.endpoints = append(ec.endpoints, cfg.AdvertiseClientUrls[0].String())
	}
	for i, e := range ec.members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			t.Fatalf("etcd member %d: %v", i, err)
		case <-time.After(time.Minute):
			t.Fatalf("etcd member %d not ready after a minute", i)
		}
	}
	return ec
}

// dial is the cluster's tunnel: it reaches a member's node address on loopback and refuses anything else.
func (ec *etcdCluster) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !strings.HasPrefix(host, "10.255.1.") {
		return nil, fmt.Errorf("the test tunnel reaches only member addresses, not %q", addr)
	}
	ec.mu.Lock()
	ec.dials = append(ec.dials, addr)
	ec.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

func (ec *etcdCluster) client(t *testing.T, endpoints ...string) *Etcd {
	t.Helper()
	cert, key := ec.ca.issue(t, "kube-etcd-healthcheck-client")
	e, err := NewEtcd(EtcdOptions{Endpoints: endpoints, CA: ec.ca.PEM, Cert: cert, Key: key, Dial: ec.dial,
		Logger: discard(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// await polls a condition the way the phase engine does, for the tests that need a change to settle.
func await(t *testing.T, cond Condition, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, status, err := cond(context.Background())
		if err != nil {
			t.Fatalf("condition failed: %v (%s)", err, status)
		}
		if done {
			return status
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not done after %s: %s", timeout, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
