package installer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testEtcdBackupRestore takes a snapshot with berth etcd backup, deletes a namespace, and restores the snapshot:
// the namespace and its objects are back and the cluster is whole. A corrupted snapshot is refused first, with the
// cluster untouched.
func testEtcdBackupRestore(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	cs := env.kube(t)
	const ns = "berth-restore"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Data: map[string]string{"ledger": "42"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	snap := filepath.Join(dir, "snapshot.db")
	code, stdout, stderr := env.run(t, 5*time.Minute, "etcd", "backup", "-i", env.invPath, "--state-dir", env.stateDir, "--out", snap, "-o", "json")
	var s struct {
		File   string
		Size   int64
		SHA256 string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil || s.Size == 0 || len(s.SHA256) != 64 {
		t.Fatalf("etcd backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if st, err := os.Stat(snap); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the snapshot file: %v %v (want mode 0600)", st, err)
	}
	figure(t, "etcd backup: %d bytes", s.Size)

	// A corrupted snapshot (one byte changed, its sha256 file unchanged) is refused, and nothing stops.
	data, _ := os.ReadFile(snap)
	data[len(data)/2] ^= 0xff
	bad := filepath.Join(dir, "corrupted.db")
	os.WriteFile(bad, data, 0o600)
	sum, _ := os.ReadFile(snap + ".sha256")
	os.WriteFile(bad+".sha256", sum, 0o600)
	code, stdout, stderr = env.run(t, 5*time.Minute, "etcd", "restore", "-i", env.invPath, "--state-dir", env.stateDir, "--from", bad, "--yes")
	if code == 0 || !strings.Contains(stderr, "not the expected "+s.SHA256) {
		t.Fatalf("restore of a corrupted snapshot: exit %d, want a refusal naming the sha256\n%s\n%s", code, stdout, stderr)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Fatalf("after the refused restore the cluster does not answer: %v", err)
	}

	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(3*time.Minute, 2*time.Second, func() error {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			return fmt.Errorf("namespace %s still there", ns)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, stdout, stderr = env.run(t, 20*time.Minute, "etcd", "restore", "-i", env.invPath, "--state-dir", env.stateDir, "--from", snap, "--yes")
	if code != 0 {
		t.Fatalf("etcd restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	figure(t, "etcd restore of every member: %s", time.Since(start).Round(time.Second))
	cs = env.kube(t)
	var cm *corev1.ConfigMap
	err := waitUntil(3*time.Minute, 2*time.Second, func() error {
		var err error
		cm, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, "keep", metav1.GetOptions{})
		return err
	})
	if err != nil || cm.Data["ledger"] != "42" {
		t.Fatalf("after the restore the namespace's objects are not back: %v %v", cm, err)
	}
	waitWhole(t, env, "every control plane")
}

// etcdStatus is one member's line of etcdctl endpoint status -w json.
type etcdStatus struct {
	Endpoint string
	Status   struct {
		Header struct {
			MemberID uint64 `json:"member_id"`
		}
		Leader uint64
	}
}

// testLeaderHandOffs moves etcd's leadership from member to member many times while busy clients read through the
// VIP, and no read fails. Every leadership move berth makes (upgrade, certs renew, node remove) meets reads in
// flight; an API server that hands them back as "etcdserver: leader changed" instead of retrying them fails its
// clients. berth's API servers run with APIServerTracing off, which keeps etcd's client retries (manifests.
// apiServerGates says why).
func testLeaderHandOffs(t *testing.T, env *e2eEnv) {
	const moves, readers = 20, 4
	for _, h := range env.inv.ControlPlanes() {
		out, err := env.exec(t, h.Name, "grep -- --feature-gates= /etc/kubernetes/manifests/kube-apiserver.yaml")
		if err != nil || !strings.Contains(out, "APIServerTracing=false") {
			t.Errorf("the API server on %s runs with tracing on (its feature gates: %q, %v)", h.Name, strings.TrimSpace(out), err)
		}
	}
	on := env.inv.ControlPlanes()[0].Name
	var endpoints []string
	for _, h := range env.inv.ControlPlanes() {
		endpoints = append(endpoints, "https://"+env.inv.NodeIP(h)+":2379")
	}
	etcdctl := "etcdctl --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt " +
		"--key=/etc/kubernetes/pki/etcd/healthcheck-client.key "
	status := func() (leader string, follower uint64) {
		t.Helper()
		out, err := env.exec(t, on, etcdctl+"--endpoints="+strings.Join(endpoints, ",")+" endpoint status -w json")
		if err != nil {
			t.Fatalf("etcd endpoint status on %s: %v\n%s", on, err, out)
		}
		var st []etcdStatus
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != len(endpoints) {
			t.Fatalf("etcd endpoint status: %v\n%s", err, out)
		}
		for _, s := range st {
			if s.Status.Header.MemberID == s.Status.Leader {
				leader = s.Endpoint
			} else if follower == 0 {
				follower = s.Status.Header.MemberID
			}
		}
		if leader == "" || follower == 0 {
			t.Fatalf("etcd has no leader and follower:\n%s", out)
		}
		return leader, follower
	}

	probe := startBusyProbe(t, env, readers)
	time.Sleep(2 * time.Second)
	start := time.Now()
	for range moves {
		leader, to := status()
		if out, err := env.exec(t, on, etcdctl+"--endpoints="+leader+" move-leader "+fmt.Sprintf("%x", to)); err != nil {
			t.Fatalf("move etcd's leadership from %s: %v\n%s", leader, err, out)
		}
		time.Sleep(time.Second)
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	failed, total, _, _ := probe.stop()
	figure(t, "%d etcd leadership moves in %s under %d busy readers through the VIP: %d of %d reads failed (goal 0)",
		moves, took.Round(time.Second), readers, failed, total)
	if failed != 0 {
		t.Errorf("%d of %d reads failed while etcd's leadership moved; first failures:\n%s", failed, total, probe.firstFailures())
	}
	if total < moves*50 {
		t.Errorf("the readers sent only %d requests: they did not watch the moves", total)
	}
}
