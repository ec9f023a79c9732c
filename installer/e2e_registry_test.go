package installer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/inventory"
)

// testRegistries: the install ran the System registry on both registry hosts of the shared lab, on the storage
// plane. Each replica listens on its storage address and on its loopback push address only, serves every image of
// the bundle with the bundle's digest over TLS from the registry CA kept in the state directory, refuses clients
// that do not trust that CA, and refuses every push on its plane listener. Its key and configuration are 0600.
func testRegistries(t *testing.T, env *e2eEnv) {
	if len(env.inv.Registries) == 0 {
		t.Fatal("the shared lab has no registry")
	}
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundles.Open(context.Background(), env.bundle, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(env.stateDir, "clusters", env.inv.Metadata.Name, "registry-ca.crt")
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatalf("the registry CA: %v", err)
	}
	mode0600(t, strings.TrimSuffix(caPath, ".crt")+".key")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", caPath)
	}
	t.Run("a worker pulls a platform image it lacks through the storage NIC", func(t *testing.T) { testPullThroughRegistry(t, env, b) })
	for _, r := range env.inv.Registries {
		if r.Role != inventory.RegistrySystem {
			continue
		}
		for _, host := range r.Hosts {
			h := env.inv.Host(host)
			addr := net.JoinHostPort(h.AddressOn(r.Plane), strconv.Itoa(r.Port))
			t.Run(r.Name+" on "+host, func(t *testing.T) {
				e, err := env.pool.Get(host)
				if err != nil {
					t.Fatal(err)
				}
				// Listening sockets: the plane's address and the loopback push address, nothing on every address.
				out, err := env.exec(t, host, "ss -Htlnp | grep berth-registry | awk '{print $4}' | sort")
				if err != nil {
					t.Fatal(err)
				}
				got := strings.Fields(out)
				if len(got) != 2 || got[1] != addr || !strings.HasPrefix(got[0], "127.0.1.") {
					t.Errorf("registry %s on %s listens on %q; want its storage address %s and a 127.0.1.x push address", r.Name, host, got, addr)
				}
				for _, f := range []string{"/etc/berth/registry/" + r.Name + "/tls.key", "/etc/berth/registry/" + r.Name + "/config.yml", "/etc/berth/registry/" + r.Name + "/push.yml"} {
					if m, err := env.exec(t, host, "stat -c %a "+f); err != nil || strings.TrimSpace(m) != "600" {
						t.Errorf("%s on %s: mode %q, %v; want 600", f, host, strings.TrimSpace(m), err)
					}
				}
				trusting := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
				defer trusting.CloseIdleConnections()
				// Every image of the bundle, under every reference, with the bundle's digest.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				lacking, err := airgap.ReplicaLacks(ctx, b.Manifest.Images, airgap.Replica{Name: host, Addr: addr, Transport: trusting})
				if err != nil || len(lacking) > 0 {
					t.Errorf("registry %s on %s (%s) does not serve the bundle's images: %v\n%s", r.Name, host, addr, err, strings.Join(lacking, "\n"))
				}
				// A client that does not trust the registry CA is refused at the handshake.
				untrusting := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}
				defer untrusting.CloseIdleConnections()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v2/", nil)
				if resp, err := untrusting.RoundTrip(req); err == nil {
					resp.Body.Close()
					t.Errorf("a client without the registry CA got %s from %s", resp.Status, addr)
				} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
					t.Errorf("a client without the registry CA: %v; want a certificate verification error", err)
				}
				// Nobody pushes on the plane's listener, not even berth's own image.
				img, err := random.Image(1024, 1)
				if err != nil {
					t.Fatal(err)
				}
				ref, err := name.ParseReference(addr + "/berth.test/pushed:refused")
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(trusting)); err == nil {
					t.Errorf("a push to the read-only System registry on %s succeeded", addr)
				} else {
					t.Logf("push to %s refused: %v", addr, err)
				}
			})
		}
	}
}

// testPullThroughRegistry: a worker runs a pod whose image it does not hold (the scheduler's, which only control
// planes import): the kubelet pulls it through containerd's mirror configuration from the System registry, and
// the bytes arrive on the worker's storage NIC, not on its management, control or business NIC.
func testPullThroughRegistry(t *testing.T, env *e2eEnv, b *bundles.Bundle) {
	ctx := context.Background()
	worker := env.inv.Workers()[0]
	var im bundles.Image
	for _, i := range b.Manifest.Images {
		if strings.Contains(i.Refs[0], "/kube-scheduler:") {
			im = i
		}
	}
	if im.Digest == "" {
		t.Fatal("the bundle has no kube-scheduler image")
	}
	var layerBytes int64
	for _, l := range im.Layers {
		if f, ok := b.Manifest.FileByPath(bundles.BlobPath(l)); ok {
			layerBytes += f.Size
		}
	}
	if out, _ := env.exec(t, worker.Name, "ctr -n k8s.io images ls -q | grep -F "+im.Refs[0]+"; true"); strings.TrimSpace(out) != "" {
		t.Fatalf("%s holds %s already: the pull would prove nothing", worker.Name, im.Refs[0])
	}
	counters := func() map[inventory.PlaneName]int64 {
		out := map[inventory.PlaneName]int64{}
		for _, plane := range inventory.AllPlanes {
			if worker.NICs.Get(plane) == nil {
				continue
			}
			s, err := env.exec(t, worker.Name, "cat /sys/class/net/"+worker.NICs.Get(plane).Interface+"/statistics/rx_bytes")
			if err != nil {
				t.Fatal(err)
			}
			out[plane], _ = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		}
		return out
	}
	cs := env.kube(t)
	before := counters()
	start := time.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull-through-registry", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: worker.Name, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "scheduler", Image: im.Refs[0], ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/usr/local/bin/kube-scheduler", "--version"}}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{})
	err := waitUntil(3*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return nil
		case corev1.PodFailed:
			return fmt.Errorf("the pod failed: %s", podLogs(cs, "default", pod.Name))
		}
		for _, st := range p.Status.ContainerStatuses {
			if w := st.State.Waiting; w != nil && w.Message != "" {
				return fmt.Errorf("the pod is %s: %s: %s", p.Status.Phase, w.Reason, w.Message)
			}
		}
		return fmt.Errorf("the pod is %s", p.Status.Phase)
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	after := counters()
	delta := map[inventory.PlaneName]int64{}
	for plane := range after {
		delta[plane] = after[plane] - before[plane]
	}
	figure(t, "pull through the System registry: %s (%s of layers) on %s in %s; bytes received per NIC: storage %s, management %s, control %s, business %s",
		im.Refs[0], airgap.HumanBytes(layerBytes), worker.Name, took.Round(time.Millisecond), airgap.HumanBytes(delta[inventory.StorageNet]),
		airgap.HumanBytes(delta[inventory.Management]), airgap.HumanBytes(delta[inventory.Control]), airgap.HumanBytes(delta[inventory.Business]))
	if delta[inventory.StorageNet] < layerBytes {
		t.Errorf("the storage NIC of %s received %d bytes during the pull; the image's layers are %d bytes", worker.Name, delta[inventory.StorageNet], layerBytes)
	}
	for plane, d := range delta {
		if plane != inventory.StorageNet && d > layerBytes/4 {
			t.Errorf("the %s NIC of %s received %d bytes during the pull (the image's layers are %d bytes): the pull went there", plane, worker.Name, d, layerBytes)
		}
	}
}
