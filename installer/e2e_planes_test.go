package installer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
)

// planeBytes reads, with berth status, the bytes each host's NIC on each plane has received and sent.
func planeBytes(t *testing.T, env *e2eEnv) map[string]map[inventory.PlaneName]int64 {
	t.Helper()
	_, stdout, stderr := env.run(t, 2*time.Minute, "status", "-i", env.invPath, "--state-dir", env.stateDir, "-o", "json")
	var st struct{ Listeners []installer.HostListeners }
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s\n%s", err, stdout, stderr)
	}
	out := map[string]map[inventory.PlaneName]int64{}
	for _, h := range st.Listeners {
		if h.Error != "" || len(h.Traffic) == 0 {
			t.Fatalf("status read no NIC counters of %s: %s", h.Host, h.Error)
		}
		out[h.Host] = map[inventory.PlaneName]int64{}
		for _, tr := range h.Traffic {
			out[h.Host][tr.Plane] = tr.RxBytes + tr.TxBytes
		}
	}
	return out
}

// testPlaneTraffic reads every host's NIC byte counters (berth status) around three known actions and checks
// which plane carried each: 12 MiB read over berth's SSH from a worker go on management; 14 MiB of ConfigMaps
// written through the API's VIP, which etcd replicates, go on control on every control plane; 32 MiB from a pod on
// one worker to a pod on the other go on business. On the hosts an action involves, its plane carries at least
// its bytes and every other plane less than a quarter of them. Image pulls on storage are the pull test's.
func testPlaneTraffic(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	cs := env.kube(t)
	env.loadNetcheck(t)
	workers := env.inv.Workers()
	w1, w2 := workers[0].Name, workers[1].Name
	var cps []string
	for _, h := range env.inv.ControlPlanes() {
		cps = append(cps, h.Name)
	}
	ns := "berth-e2e-planes"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	serverIP := startNetcheckServer(t, cs, ns, w1)

	const payload, sshPayload = 32 << 20, 12 << 20 // berth's executor returns at most 16 MiB of a command's output
	const configMaps, configMapBytes = 16, 900 << 10
	actions := []struct {
		name  string
		plane inventory.PlaneName
		hosts []string
		bytes int64
		do    func() error
	}{
		{"12 MiB read over berth's SSH from " + w1, inventory.Management, []string{w1}, sshPayload, func() error {
			out, err := env.exec(t, w1, "head -c "+strconv.Itoa(sshPayload)+" /dev/zero")
			if err == nil && len(out) != sshPayload {
				err = fmt.Errorf("read %d bytes, want %d", len(out), sshPayload)
			}
			return err
		}},
		{fmt.Sprintf("%d ConfigMaps of 900 KiB written through the API's VIP (etcd replicates them)", configMaps), inventory.Control, cps,
			configMaps * configMapBytes, func() error {
				for i := range configMaps {
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%d", i)},
						BinaryData: map[string][]byte{"data": make([]byte, configMapBytes)}}
					if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
						return err
					}
				}
				return nil
			}},
		{"32 MiB from a pod on " + w1 + " to a pod on " + w2, inventory.Business, []string{w1, w2}, payload, func() error {
			client := netcheckPod("fetch", w2, "fetch", "http://"+serverIP+":8080/bytes/"+strconv.Itoa(payload))
			client.Spec.RestartPolicy = corev1.RestartPolicyNever
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, client, metav1.CreateOptions{}); err != nil {
				return err
			}
			if err := waitPod(cs, ns, "fetch", corev1.PodSucceeded, 3*time.Minute); err != nil {
				return err
			}
			if logs := strings.TrimSpace(podLogs(cs, ns, "fetch")); logs != strconv.Itoa(payload) {
				return fmt.Errorf("the pod on %s fetched %q bytes, want %d", w2, logs, payload)
			}
			return nil
		}},
	}
	var table []string
	for _, a := range actions {
		before := planeBytes(t, env)
		if err := a.do(); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		after := planeBytes(t, env)
		for _, h := range a.hosts {
			row := []string{}
			for _, p := range inventory.AllPlanes {
				b, ok := before[h][p]
				if !ok {
					continue
				}
				d := after[h][p] - b
				row = append(row, fmt.Sprintf("%s %s", p, airgap.HumanBytes(d)))
				switch {
				case p == a.plane && d < a.bytes:
					t.Errorf("%s: the %s NIC of %s carried %d bytes, fewer than the action's %d: the traffic went elsewhere", a.name, p, h, d, a.bytes)
				case p != a.plane && d > a.bytes/4:
					t.Errorf("%s: the %s NIC of %s carried %d bytes (the action moved %d on %s): traffic on the wrong plane", a.name, p, h, d, a.bytes, a.plane)
				}
			}
			table = append(table, fmt.Sprintf("%s on %s: %s", a.name, h, strings.Join(row, ", ")))
		}
	}
	figure(t, "bytes per plane NIC (received and sent) during each action: %s", strings.Join(table, "; "))
}
