package installer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
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
	b := env.openBundle(t)
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
	// Every image of the bundle, under every reference, with the bundle's digest, on every System replica.
	checkSystemServes(t, env, b.Manifest.Images)
	t.Run("a worker pulls a platform image it lacks through the storage NIC", func(t *testing.T) { testPullThroughRegistry(t, env, b) })
	t.Run("the User registry takes pushes with credentials only, and a pod runs an image pushed there", func(t *testing.T) { testUserRegistry(t, env, pool, b) })
	t.Run("the User registry's replicas converge after a push to one and after an outage", func(t *testing.T) { testUserRegistrySync(t, env, pool) })
	t.Run("the System registry's VIP moves when its holder stops, and pulls go on", func(t *testing.T) { testRegistryVIPFailover(t, env, pool, b) })
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
				// Every registry of the host: the System registry's storage and loopback push addresses, the User
				// registry's business address at its port and its push port. Nothing else, nothing on every address.
				var want []string
				for _, other := range env.inv.Registries {
					if !slices.Contains(other.Hosts, host) {
						continue
					}
					// And the same on the registry's VIP, which every host of the registry listens on.
					for _, a := range []string{h.AddressOn(other.Plane), other.VIP} {
						if a == "" {
							continue
						}
						want = append(want, net.JoinHostPort(a, strconv.Itoa(other.Port)))
						if other.Role == inventory.RegistryUser {
							want = append(want, net.JoinHostPort(a, strconv.Itoa(other.PushPort)))
						}
					}
				}
				got := strings.Fields(out)
				var loopback int
				got = slices.DeleteFunc(got, func(l string) bool {
					if strings.HasPrefix(l, "127.0.1.") {
						loopback++
						return true
					}
					return false
				})
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) || loopback != 1 {
					t.Errorf("the registries on %s listen on %q and %d loopback addresses; want %q and the System registry's 127.0.1.x push address", host, got, loopback, want)
				}
				for _, f := range []string{"/etc/berth/registry/" + r.Name + "/tls.key", "/etc/berth/registry/" + r.Name + "/config.yml", "/etc/berth/registry/" + r.Name + "/push.yml"} {
					if m, err := env.exec(t, host, "stat -c %a "+f); err != nil || strings.TrimSpace(m) != "600" {
						t.Errorf("%s on %s: mode %q, %v; want 600", f, host, strings.TrimSpace(m), err)
					}
				}
				trusting := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
				defer trusting.CloseIdleConnections()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
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
	held, _ := env.exec(t, worker.Name, "ctr -n k8s.io images ls -q")
	if strings.Contains(held, im.Refs[0]) {
		t.Fatalf("%s holds %s already: the pull would prove nothing", worker.Name, im.Refs[0])
	}
	// Nodes import only what they run before the System registry can serve them: the DNS add-on runs on control
	// planes only, so no worker ever holds its images.
	for _, name := range []string{"dnsmasq", "dns-health"} {
		ref, err := airgap.ImageRef(b.Manifest, name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(held, ref) {
			t.Errorf("%s holds the DNS add-on's image %s, which only control planes run: it was imported there", worker.Name, ref)
		}
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
	if err := waitPod(cs, "default", pod.Name, corev1.PodSucceeded, 3*time.Minute); err != nil {
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

// testUserRegistry: the User registry runs on the business plane of both registry hosts. Nobody pushes to it
// without its credentials (its plane listener is read-only, its push listener asks for them), berth images push
// fills every replica from a docker archive with the credentials berth keeps (never printed), a second push sends
// nothing, a push to the System registry is refused, and a pod whose image came that way starts on a worker that
// never had it, pulled through the node's mirror configuration for docker.io.
func testUserRegistry(t *testing.T, env *e2eEnv, pool *x509.CertPool, b *bundles.Bundle) {
	var r *inventory.Registry
	for i := range env.inv.Registries {
		if env.inv.Registries[i].Role == inventory.RegistryUser {
			r = &env.inv.Registries[i]
		}
	}
	if r == nil {
		t.Fatal("the shared lab has no User registry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range r.Hosts {
		e, err := env.pool.Get(host)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		a := env.inv.Host(host).AddressOn(r.Plane)
		for _, port := range []int{r.Port, r.PushPort} {
			addr := net.JoinHostPort(a, strconv.Itoa(port))
			ref, _ := name.ParseReference(addr + "/docker.io/anonymous/push:refused")
			err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(tr))
			if err == nil {
				t.Errorf("an anonymous push to registry %s on %s succeeded", r.Name, addr)
				continue
			}
			t.Logf("anonymous push to %s refused: %v", addr, err)
		}
	}

	const appImage = "docker.io/berthtest/netcheck:user"
	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := writeNetcheckImage(env.netcheck, buildDNSLoad(t), archive, appImage); err != nil {
		t.Fatal(err)
	}
	push := func() (installer.ImagesPushResult, string) {
		var res installer.ImagesPushResult
		code, out := env.runJSON(t, 5*time.Minute, &res, "images", "push", "-i", env.invPath, "--state-dir", env.stateDir, "--registry", r.Name, archive, "-o", "json")
		if code != 0 {
			t.Fatalf("berth images push: exit %d\n%s", code, out)
		}
		return res, out
	}
	first, out := push()
	credFile := filepath.Join(env.stateDir, "clusters", env.inv.Metadata.Name, "registry", r.Name+".password")
	mode0600(t, credFile)
	password, err := os.ReadFile(credFile)
	if err != nil || len(password) < 32 {
		t.Fatalf("push credentials in %s: %q, %v", credFile, password, err)
	}
	if strings.Contains(out, string(password)) {
		t.Error("berth images push printed the registry's password")
	}
	if len(first.Images) != 1 || len(first.Pushes) != len(r.Hosts) {
		t.Fatalf("first push: %+v", first)
	}
	for _, p := range first.Pushes {
		if p.Pushed != 1 || p.Sent == 0 {
			t.Errorf("first push to %s: %d references pushed, %d bytes sent", p.Replica, p.Pushed, p.Sent)
		}
	}
	figure(t, "berth images push: %s to %d User registry replicas, %s sent to the first in %s", appImage, len(first.Pushes),
		airgap.HumanBytes(first.Pushes[0].Sent), first.Pushes[0].Duration.Round(time.Millisecond))
	again, _ := push()
	for _, p := range again.Pushes {
		if p.Pushed != 0 || p.Sent != 0 {
			t.Errorf("second push to %s: %d references pushed, %d bytes sent; want nothing but reads", p.Replica, p.Pushed, p.Sent)
		}
	}
	for _, host := range r.Hosts {
		if m, err := env.exec(t, host, "stat -c %a /etc/berth/registry/"+r.Name+"/htpasswd"); err != nil || strings.TrimSpace(m) != "600" {
			t.Errorf("htpasswd on %s: mode %q, %v", host, strings.TrimSpace(m), err)
		}
		e, _ := env.pool.Get(host)
		tr := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
		addr := net.JoinHostPort(env.inv.Host(host).AddressOn(r.Plane), strconv.Itoa(r.Port))
		lacking, err := airgap.ReplicaLacks(ctx, []bundles.Image{{Name: appImage, Refs: []string{appImage}, Digest: first.Images[0].Digest}},
			airgap.Replica{Name: host, Addr: addr, Transport: tr})
		if err != nil || len(lacking) > 0 {
			t.Errorf("replica on %s does not serve %s anonymously on %s: %v %v", host, appImage, addr, lacking, err)
		}
		tr.CloseIdleConnections()
	}
	if code, out := env.runJSON(t, time.Minute, &installer.ImagesPushResult{}, "images", "push", "-i", env.invPath, "--state-dir", env.stateDir,
		"--registry", "system", archive); code == 0 || !strings.Contains(out, "only berth fills it") {
		t.Errorf("berth images push --registry system: exit %d\n%s", code, out)
	}

	// berth registry sync copies a platform image from the System registry into both User replicas.
	pause, err := airgap.ImageRef(b.Manifest, "pause")
	if err != nil {
		t.Fatal(err)
	}
	var synced installer.RegistrySyncResult
	code, out := env.runJSON(t, 5*time.Minute, &synced, "registry", "sync", "-i", env.invPath, "--state-dir", env.stateDir,
		"--from", "system", "--to", r.Name, "--image", pause, "-o", "json")
	if code != 0 || len(synced.Images) != 1 || len(synced.Pushes) != len(r.Hosts) {
		t.Fatalf("berth registry sync: exit %d, %+v\n%s", code, synced, out)
	}
	for _, p := range synced.Pushes {
		if p.Pushed != 1 {
			t.Errorf("sync to %s pushed %d references, want 1", p.Replica, p.Pushed)
		}
	}
	for _, host := range r.Hosts {
		e, _ := env.pool.Get(host)
		tr := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
		addr := net.JoinHostPort(env.inv.Host(host).AddressOn(r.Plane), strconv.Itoa(r.Port))
		lacking, err := airgap.ReplicaLacks(ctx, []bundles.Image{{Name: pause, Refs: []string{pause}, Digest: synced.Images[0].Digest}},
			airgap.Replica{Name: host, Addr: addr, Transport: tr})
		tr.CloseIdleConnections()
		if err != nil || len(lacking) > 0 {
			t.Errorf("after the sync, the User replica on %s does not serve %s: %v %v", host, pause, lacking, err)
		}
	}
	if code, out := env.runJSON(t, time.Minute, &installer.RegistrySyncResult{}, "registry", "sync", "-i", env.invPath, "--state-dir", env.stateDir,
		"--from", r.Name, "--to", "system"); code == 0 || !strings.Contains(out, "only berth fills it") {
		t.Errorf("berth registry sync --to system: exit %d\n%s", code, out)
	}

	// A pod on a worker that never had the image: the kubelet pulls docker.io/berthtest/netcheck:user through the
	// node's docker.io mirror, the User registry.
	worker := env.inv.Workers()[len(env.inv.Workers())-1].Name
	cs := env.kube(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "from-user-registry", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: worker, Containers: []corev1.Container{{Name: "app", Image: appImage,
			ImagePullPolicy: corev1.PullIfNotPresent, Args: []string{"serve", ":8080"}}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{})
	if err := waitPod(cs, "default", pod.Name, corev1.PodRunning, 3*time.Minute); err != nil {
		t.Errorf("a pod with %s on %s: %v", appImage, worker, err)
	}
}

// testUserRegistrySync: the sync services on the User registry's hosts keep its replicas in step. An image pushed to
// one replica, as a team's CI pushes, is served by the other soon after (the push listener reports it to its sync
// service); one pushed while the other replica is stopped is served there after it is started again (the periodic
// round). The services run from berth's binary, with their configuration 0600, and never log the password.
func testUserRegistrySync(t *testing.T, env *e2eEnv, pool *x509.CertPool) {
	var r *inventory.Registry
	for i := range env.inv.Registries {
		if env.inv.Registries[i].Role == inventory.RegistryUser {
			r = &env.inv.Registries[i]
		}
	}
	if r == nil || len(r.Hosts) < 2 {
		t.Fatal("the shared lab has no User registry on two hosts")
	}
	password, err := os.ReadFile(filepath.Join(env.stateDir, "clusters", env.inv.Metadata.Name, "registry", r.Name+".password"))
	if err != nil {
		t.Fatal(err)
	}
	auth := &authn.Basic{Username: "push", Password: string(password)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	replicas := make([]airgap.Replica, len(r.Hosts))
	for i, host := range r.Hosts {
		out, err := env.exec(t, host, "systemctl is-active berth-registry-"+r.Name+"-sync; stat -c %a /etc/berth/registry/"+r.Name+"/sync.json")
		if err != nil || strings.Fields(out)[0] != "active" || !strings.HasSuffix(strings.TrimSpace(out), "600") {
			t.Errorf("sync service on %s: %q, %v; want active, its configuration 0600", host, out, err)
		}
		e, err := env.pool.Get(host)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		replicas[i] = airgap.Replica{Name: host, Addr: net.JoinHostPort(env.inv.Host(host).AddressOn(r.Plane), strconv.Itoa(r.PushPort)),
			Transport: tr, Auth: auth}
	}
	push := func(tag string) string {
		t.Helper()
		img, err := random.Image(256<<10, 3)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(replicas[0].Addr + "/docker.io/berthtest/synced:" + tag)
		if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(replicas[0].Transport), remote.WithAuth(auth)); err != nil {
			t.Fatalf("push to %s: %v", replicas[0].Name, err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	served := func(rep airgap.Replica, tag, digest string, bound time.Duration) (time.Duration, error) {
		start := time.Now()
		ref, _ := name.ParseReference(rep.Addr + "/docker.io/berthtest/synced:" + tag)
		for {
			d, err := remote.Head(ref, remote.WithContext(ctx), remote.WithTransport(rep.Transport), remote.WithAuth(auth))
			if err == nil && d.Digest.String() == digest {
				return time.Since(start), nil
			}
			if time.Since(start) > bound {
				return 0, fmt.Errorf("%s does not serve synced:%s with %s after %s (%v)", rep.Name, tag, digest, bound, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	d1 := push("1")
	took, err := served(replicas[1], "1", d1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	figure(t, "User registry sync: a push to %s served by %s %s later", replicas[0].Name, replicas[1].Name, took.Round(time.Millisecond))

	// Every process of the replica, named: systemctl start matches globs against running units only.
	list, err := env.exec(t, r.Hosts[1], "systemctl list-units --plain --no-legend 'berth-registry-"+r.Name+".service' 'berth-registry-"+r.Name+"-*.service' | awk '{print $1}'")
	if err != nil || len(strings.Fields(list)) < 3 {
		t.Fatalf("the User registry's units on %s: %q, %v", r.Hosts[1], list, err)
	}
	units := strings.Join(strings.Fields(list), " ")
	if out, err := env.exec(t, r.Hosts[1], "systemctl stop "+units); err != nil {
		t.Fatalf("stop the User registry on %s: %v\n%s", r.Hosts[1], err, out)
	}
	d2 := push("2")
	time.Sleep(2 * time.Second)
	if out, err := env.exec(t, r.Hosts[1], "systemctl start "+units); err != nil {
		t.Fatalf("start the User registry on %s: %v\n%s", r.Hosts[1], err, out)
	}
	took, err = served(replicas[1], "2", d2, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	figure(t, "User registry sync: a push made while %s was stopped served there %s after it started again (periodic round every 30s)",
		replicas[1].Name, took.Round(time.Millisecond))
	round, err := airgap.SyncReplicas(ctx, replicas, 10000)
	if err != nil || round.Changes() != 0 || len(round.Conflicts) != 0 || round.Reachable != len(replicas) {
		t.Errorf("the replicas are not in step: %+v %v", round, err)
	}
	for _, host := range r.Hosts {
		if out, _ := env.exec(t, host, "journalctl -u berth-registry-"+r.Name+"-sync --no-pager"); strings.Contains(out, string(password)) {
			t.Errorf("the sync service's journal on %s holds the registry's password", host)
		}
	}
}

// testRegistryVIPFailover stops the registry host that holds the System registry's VIP while a client on a worker
// reads a platform image's manifest through the VIP every 100 ms, and measures how long no read answered; a worker
// then pulls a platform image it lacks with the host still down. The host comes back with its registries.
func testRegistryVIPFailover(t *testing.T, env *e2eEnv, pool *x509.CertPool, b *bundles.Bundle) {
	ctx := context.Background()
	var r *inventory.Registry
	for i := range env.inv.Registries {
		if env.inv.Registries[i].Role == inventory.RegistrySystem {
			r = &env.inv.Registries[i]
		}
	}
	if r == nil || r.VIP == "" || len(r.Hosts) < 2 {
		t.Fatal("the shared lab's System registry has no VIP over two hosts")
	}
	holder := ""
	for _, host := range r.Hosts {
		if out, _ := env.exec(t, host, "ip -o -4 addr show"); strings.Contains(out, " "+r.VIP+"/") {
			holder = host
		}
	}
	if holder == "" {
		t.Fatalf("no host of registry %s holds its VIP %s", r.Name, r.VIP)
	}
	worker := env.inv.Workers()[0].Name
	w, err := env.pool.Get(worker)
	if err != nil {
		t.Fatal(err)
	}
	pause, err := airgap.ImageRef(b.Manifest, "pause")
	if err != nil {
		t.Fatal(err)
	}
	vip := net.JoinHostPort(r.VIP, strconv.Itoa(r.Port))
	ref, err := airgap.MirrorRef(vip, pause)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: w.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	read := func() bool {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := remote.Head(ref, remote.WithContext(ctx), remote.WithTransport(tr))
		return err == nil
	}
	if !read() {
		t.Fatalf("%s does not answer through the VIP before the test", ref)
	}
	var mu sync.Mutex
	var lastOK, firstDown, backAt, stopped time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ok, now := read(), time.Now()
			mu.Lock()
			switch {
			case ok && !stopped.IsZero() && !firstDown.IsZero() && backAt.IsZero():
				backAt = now
			case ok && firstDown.IsZero():
				lastOK = now
			case !ok && !stopped.IsZero() && firstDown.IsZero():
				firstDown = now
			}
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second)
	mu.Lock()
	stopped = time.Now()
	mu.Unlock()
	if err := env.lab.StopHost(ctx, holder); err != nil {
		t.Fatal(err)
	}
	defer func() { // the host and its registries come back for the tests that follow
		if err := env.lab.StartHost(ctx, holder); err != nil {
			t.Fatal(err)
		}
		for _, reg := range env.inv.Registries {
			e, err := env.pool.Get(holder)
			if err != nil {
				t.Fatal(err)
			}
			rt := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
			addr := net.JoinHostPort(env.inv.Host(holder).AddressOn(reg.Plane), strconv.Itoa(reg.Port))
			if err := waitUntil(3*time.Minute, time.Second, func() error {
				resp, err := (&http.Client{Transport: rt, Timeout: 5 * time.Second}).Get("https://" + addr + "/v2/")
				if err != nil {
					return err
				}
				resp.Body.Close()
				return nil
			}); err != nil {
				t.Errorf("registry %s on %s does not answer after the host came back: %v", reg.Name, holder, err)
			}
			rt.CloseIdleConnections()
		}
	}()
	err = waitUntil(time.Minute, 200*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if backAt.IsZero() && !firstDown.IsZero() {
			return fmt.Errorf("no read has answered through the VIP since %s stopped", holder)
		}
		if firstDown.IsZero() && time.Since(stopped) < 10*time.Second {
			return fmt.Errorf("no outage seen yet")
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	gap := time.Duration(0)
	if !firstDown.IsZero() {
		gap = backAt.Sub(lastOK)
	}
	figure(t, "registry VIP failover: %s (holding %s) stopped; reads of %s through the VIP did not answer for %s (goal <= 5s)",
		holder, r.VIP, pause, gap.Round(10*time.Millisecond))
	if gap > 5*time.Second {
		t.Errorf("reads through the registry VIP failed for %s after its holder stopped (goal <= 5s)", gap)
	}
	newHolder := ""
	for _, host := range r.Hosts {
		if host == holder {
			continue
		}
		if out, _ := env.exec(t, host, "ip -o -4 addr show"); strings.Contains(out, " "+r.VIP+"/") {
			newHolder = host
		}
	}
	if newHolder == "" {
		t.Error("no other registry host took the VIP")
	}
	// A node pulls an image it lacks while the host is down: containerd goes through the VIP, now on the other host.
	var sched string
	for _, im := range b.Manifest.Images {
		if strings.Contains(im.Refs[0], "/kube-scheduler:") {
			sched = im.Refs[0]
		}
	}
	env.exec(t, worker, "ctr -n k8s.io images rm "+sched+" >/dev/null 2>&1; true")
	cs := env.kube(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull-with-a-registry-host-down", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: worker, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "scheduler", Image: sched, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/usr/local/bin/kube-scheduler", "--version"}}}},
	}
	start := time.Now()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{})
	if err := waitPod(cs, "default", pod.Name, corev1.PodSucceeded, 3*time.Minute); err != nil {
		t.Errorf("%s cannot pull %s with %s down: %v", worker, sched, holder, err)
	} else {
		figure(t, "registry VIP failover: with %s down, a pod on %s pulled %s and ran in %s", holder, worker, sched, time.Since(start).Round(time.Millisecond))
	}
}

// checkRegistriesFilledFirst: the upgrade's registries phase ended, with every System replica serving the new
// release's images, before its first control plane moved.
func checkRegistriesFilledFirst(t *testing.T, env *e2eEnv, bundlePath, events string) {
	t.Helper()
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var filled, moved int
	for i, line := range strings.Split(string(data), "\n") {
		var ev struct{ Kind, Phase, Status string }
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		switch {
		case ev.Kind == "phase-finish" && ev.Phase == "registries" && ev.Status == "ok":
			filled = i + 1
		case ev.Kind == "phase-start" && ev.Phase == "control-planes" && moved == 0:
			moved = i + 1
		}
	}
	if filled == 0 || moved == 0 || filled > moved {
		t.Errorf("the upgrade's registries phase ended at event %d, its control planes started at event %d: the System registry must be filled first\n%s", filled, moved, stepEvents(events))
	}
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		t.Fatal(err)
	}
	next, err := bundles.Open(context.Background(), bundlePath, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	checkSystemServes(t, env, next.Manifest.Images)
}

// checkSystemServes fails the test unless every System registry replica serves every image, under each of its
// references, with its digest, to an anonymous client that trusts the registry CA.
func checkSystemServes(t *testing.T, env *e2eEnv, images []bundles.Image) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(env.stateDir, "clusters", env.inv.Metadata.Name, "registry-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	for _, r := range env.inv.Registries {
		if r.Role != inventory.RegistrySystem {
			continue
		}
		for _, host := range r.Hosts {
			e, err := env.pool.Get(host)
			if err != nil {
				t.Fatal(err)
			}
			tr := &http.Transport{DialContext: e.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
			addr := net.JoinHostPort(env.inv.Host(host).AddressOn(r.Plane), strconv.Itoa(r.Port))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			lacking, err := airgap.ReplicaLacks(ctx, images, airgap.Replica{Name: host, Addr: addr, Transport: tr})
			cancel()
			tr.CloseIdleConnections()
			if err != nil || len(lacking) > 0 {
				t.Errorf("registry %s on %s (%s) does not serve the images: %v\n%s", r.Name, host, addr, err, strings.Join(lacking, "\n"))
			}
		}
	}
}

// waitPod waits until the pod reaches phase want; it fails at once when the pod fails, and says why a container
// waits (an image that cannot be pulled, say).
func waitPod(cs kubernetes.Interface, ns, name string, want corev1.PodPhase, timeout time.Duration) error {
	return waitUntil(timeout, time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case want:
			return nil
		case corev1.PodFailed:
			return fmt.Errorf("pod %s failed: %s", name, podLogs(cs, ns, name))
		}
		for _, st := range p.Status.ContainerStatuses {
			if w := st.State.Waiting; w != nil && w.Message != "" {
				return fmt.Errorf("pod %s is %s: %s: %s", name, p.Status.Phase, w.Reason, w.Message)
			}
		}
		return fmt.Errorf("pod %s is %s", name, p.Status.Phase)
	})
}
