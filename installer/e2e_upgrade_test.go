package installer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab/labtest"
)

// upgradeNS holds the test's workload: what a well-behaved bank application runs.
const upgradeNS = "berth-upgrade"

// testUpgrade moves the installed lab cluster from the 1.31 to the 1.32 lab bundle while a probe on this machine
// sends a request every 100 ms to the API through the VIP and to a workload through its NodePort, and checks
// that no request fails. On the way: bundles two minors ahead or older than the cluster are refused before any
// host is touched; a PodDisruptionBudget that allows no disruption stops the apply at the bounded wait, naming it,
// and the same command resumes once it is relaxed; berth killed with SIGKILL during the worker batches resumes;
// a second apply changes nothing.
func testUpgrade(t *testing.T, env *e2eEnv) {
	next := labtest.RequireUpgradeBundle(t)
	t.Run("bundles that skip a minor or go back are refused before any host changes", func(t *testing.T) { testUpgradeRefusals(t, env) })
	if t.Failed() {
		return
	}
	cs := env.kube(t)
	env.loadNetcheck(t)
	nodePort := deployWorkload(t, cs, env.inv.Workers()[0].Name)
	probe := startProbe(t, env, nodePort)
	// The upgrade reads 1.32 from a patch bundle against the installed 1.31 bundle, as a bank carries it across the
	// gap, without 1.31 itself: every host holds 1.31's content already, so staging moves only what 1.32 adds.
	patch, patchKey := makePatch(t, env, next)
	t.Run("a host that lacks what the patch takes from its base is named before any host changes", func(t *testing.T) {
		testPatchNeedsBase(t, env, patch, patchKey)
	})
	if t.Failed() {
		return
	}
	args := func(extra ...string) []string {
		return append([]string{"upgrade", "apply", "-i", env.invPath, "-b", patch, "--key", env.key, "--key", patchKey,
			"--state-dir", env.stateDir, "--yes"}, extra...)
	}
	start := time.Now()

	// A budget that allows no disruption holds the first worker's drain: the apply stops there, naming it.
	blockingBudget(t, cs, 1)
	events := filepath.Join(t.TempDir(), "events.jsonl") // the first run's: the control planes
	code, stdout, stderr := env.run(t, 40*time.Minute, args("--drain-timeout", "40s", "--events", events)...)
	if code == 0 || !strings.Contains(stderr, "PodDisruptionBudget "+upgradeNS+"/stuck") || !strings.Contains(stderr, "pod "+upgradeNS+"/stuck-") {
		t.Fatalf("apply with a blocking budget: exit %d, want a stop naming the budget and its pod\n%s\n%s", code, stdout, stderr)
	}
	held := kubeletVersions(t, cs)
	workers := env.inv.Workers()
	if held[workers[0].Name] != "v1.31.4" || held[workers[1].Name] != "v1.31.4" {
		t.Fatalf("after the stop, the workers run %v: nothing past the held drain may change", held)
	}
	for _, cp := range env.inv.ControlPlanes() {
		if held[cp.Name] != "v1.32.5" {
			t.Errorf("after the stop, control plane %s runs %s, want v1.32.5", cp.Name, held[cp.Name])
		}
	}
	figure(t, "upgrade stopped at the blocking budget after %s", time.Since(start).Round(time.Second))
	checkStagedBytes(t, env, next, events)
	checkRegistriesFilledFirst(t, env, next, events)

	// The budget relaxed, the same command resumes; killed with SIGKILL during the worker batches, it resumes again.
	blockingBudget(t, cs, 0)
	killDuringWorkers(t, env, args())
	resume := time.Now()
	code, stdout, stderr = env.run(t, 40*time.Minute, args("-o", "json")...)
	if code != 0 {
		t.Fatalf("resumed upgrade: exit %d\n%s\n%s", code, stdout, stderr)
	}
	figure(t, "upgrade resumed after SIGKILL and finished in %s (whole upgrade %s)", time.Since(resume).Round(time.Second), time.Since(start).Round(time.Second))
	failedAPI, totalAPI, failedApp, totalApp := probe.stop()
	figure(t, "upgrade 1.31 -> 1.32 under the probe: %d of %d API requests failed, %d of %d workload requests failed (goal 0 and 0)",
		failedAPI, totalAPI, failedApp, totalApp)
	if failedAPI != 0 || failedApp != 0 {
		t.Errorf("requests failed during the upgrade: API %d of %d, workload %d of %d; first failures:\n%s\nwhat berth did until the held drain, and when:\n%s",
			failedAPI, totalAPI, failedApp, totalApp, probe.firstFailures(), stepEvents(events))
	}
	if totalAPI < 100 || totalApp < 100 {
		t.Errorf("the probe sent too few requests (API %d, workload %d): it did not watch the upgrade", totalAPI, totalApp)
	}

	for node, v := range kubeletVersions(t, cs) {
		if v != "v1.32.5" {
			t.Errorf("node %s runs kubelet %s after the upgrade, want v1.32.5", node, v)
		}
	}
	var st struct {
		Versions []struct {
			Host     string
			Versions map[string]string
		}
	}
	_, out, _ := env.run(t, 2*time.Minute, "status", "-i", env.invPath, "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, h := range st.Versions {
		if _, cp := h.Versions["kube-apiserver"]; cp && (h.Versions["etcd"] != "3.5.16-0" || h.Versions["kube-apiserver"] != "v1.32.5") {
			t.Errorf("%s runs etcd %s and API server %s, want 3.5.16-0 and v1.32.5", h.Host, h.Versions["etcd"], h.Versions["kube-apiserver"])
		}
	}
	for _, w := range workers {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), w.Name, metav1.GetOptions{})
		if err != nil || n.Spec.Unschedulable {
			t.Errorf("worker %s is left cordoned after the upgrade (%v)", w.Name, err)
		}
	}

	code, stdout, stderr = env.run(t, 20*time.Minute, args("-o", "json")...)
	var again struct {
		ChangesMade int `json:"changesMade"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &again) != nil || again.ChangesMade != 0 {
		t.Errorf("second apply of a finished upgrade: exit %d, %d changes, want 0\n%s\n%s", code, again.ChangesMade, stdout, stderr)
	}
}

// makePatch writes the patch bundle from the installed bundle to next (berth bundle delta), signed with a key of
// the test's own, and returns its path and the key's public half.
func makePatch(t testing.TB, env *e2eEnv, next string) (patch, pub string) {
	t.Helper()
	dir := t.TempDir()
	key := bundletest.NewKey(t)
	pub = filepath.Join(dir, "patch.pub")
	if err := bundles.WriteKeyPair(filepath.Join(dir, "patch.key"), pub, key.Private); err != nil {
		t.Fatal(err)
	}
	patch = filepath.Join(dir, "patch.tar")
	code, stdout, stderr := env.run(t, 10*time.Minute, "bundle", "delta", env.bundle, next, "--out", patch,
		"--key", env.key, "--sign-key", filepath.Join(dir, "patch.key"))
	if code != 0 {
		t.Fatalf("bundle delta: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Checked against its base, every file of 1.32 from whichever of the two holds it; against another base (1.32
	// itself), refused with both manifest digests named.
	verify := func(base string) (int, string) {
		code, stdout, stderr := env.run(t, 10*time.Minute, "bundle", "verify", patch, "--base", base, "--key", env.key, "--key", pub, "-o", "json")
		return code, stdout + stderr
	}
	if code, out := verify(env.bundle); code != 0 {
		t.Fatalf("the patch with its base: exit %d\n%s", code, out)
	}
	digestOf := func(p string) string {
		code, stdout, stderr := env.run(t, 10*time.Minute, "bundle", "inspect", p, "--key", env.key, "-o", "json")
		var in struct {
			ManifestDigest string `json:"manifestDigest"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &in) != nil || in.ManifestDigest == "" {
			t.Fatalf("inspect %s: exit %d\n%s%s", p, code, stdout, stderr)
		}
		return in.ManifestDigest
	}
	if code, out := verify(next); code == 0 || !strings.Contains(out, digestOf(env.bundle)) || !strings.Contains(out, digestOf(next)) {
		t.Errorf("the patch with another base: exit %d, want a refusal naming both manifest digests\n%s", code, out)
	}
	full, _ := os.Stat(next)
	part, _ := os.Stat(patch)
	figure(t, "patch bundle 1.31 -> 1.32: %.1f MiB, %.1f%% of the full 1.32 bundle (%.1f MiB)", float64(part.Size())/(1<<20),
		100*float64(part.Size())/float64(full.Size()), float64(full.Size())/(1<<20))
	return patch, pub
}

// testPatchNeedsBase: with the patch bundle alone (no --base), a worker that lacks one file the patch takes from
// its base (set aside for the test) stops plan and apply at their checks, naming the worker, the file and --base;
// nothing changes on any host. The file is put back at the end.
func testPatchNeedsBase(t *testing.T, env *e2eEnv, patch, patchKey string) {
	var keys []ed25519.PublicKey
	for _, k := range []string{env.key, patchKey} {
		pub, err := bundles.LoadPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pub)
	}
	b, err := bundles.Open(context.Background(), patch, bundles.VerifyOptions{PublicKeys: keys, WithoutBase: true})
	if err != nil {
		t.Fatal(err)
	}
	var relied *bundles.File
	for _, f := range airgap.FilesOf(b.Manifest, bundles.KindPackage) {
		if !b.Holds(f.Path) {
			relied = &f
			break
		}
	}
	if relied == nil {
		t.Fatal("the 1.31 -> 1.32 patch carries every package: nothing to take from the base")
	}
	worker := env.inv.Workers()[1].Name
	staged := airgap.StagePath(relied.SHA256)
	if out, err := env.exec(t, worker, "mv "+staged+" "+staged+".aside"); err != nil {
		t.Fatalf("set %s aside on %s: %v\n%s", staged, worker, err, out)
	}
	t.Cleanup(func() {
		if out, err := env.exec(t, worker, "mv "+staged+".aside "+staged); err != nil {
			t.Errorf("put %s back on %s: %v\n%s", staged, worker, err, out)
		}
	})
	before := kubeletVersions(t, env.kube(t))
	for _, verb := range []string{"plan", "apply"} {
		args := []string{"upgrade", verb, "-i", env.invPath, "-b", patch, "--key", env.key, "--key", patchKey, "--state-dir", env.stateDir}
		if verb == "apply" {
			args = append(args, "--yes")
		}
		code, stdout, stderr := env.run(t, 10*time.Minute, args...)
		out := stdout + stderr
		if code != 1 || !strings.Contains(out, worker+": staged content") || !strings.Contains(out, relied.Path) ||
			!strings.Contains(out, "--base") || !strings.Contains(out, b.Manifest.Base.ManifestDigest) {
			t.Errorf("upgrade %s with the patch alone, %s lacking %s: exit %d, want 1 naming the host, the file, --base and the base\n%s",
				verb, worker, relied.Path, code, out)
		}
	}
	if after := kubeletVersions(t, env.kube(t)); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("kubelets changed: %v -> %v", before, after)
	}
	if out, _ := env.exec(t, worker, "test -f "+staged+" && echo staged"); strings.Contains(out, "staged") {
		t.Errorf("the refused apply staged %s on %s", relied.Path, worker)
	}
}

// checkStagedBytes compares what the upgrade staged on each node (the byte totals of the stage phase's progress
// events, from its --events file) with what the node lacked: the content of next it needs that the installed
// bundle's content for the node does not have. A host that was sent the whole release fails.
func checkStagedBytes(t testing.TB, env *e2eEnv, next, eventsPath string) {
	t.Helper()
	ctx := context.Background()
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		t.Fatal(err)
	}
	open := func(p string) *bundles.Bundle {
		b, err := bundles.Open(ctx, p, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oldB, newB := open(env.bundle), open(next)
	data, err := os.ReadFile(eventsPath)
	if err != nil {
		t.Fatal(err)
	}
	// Each transfer to a host (from here, or relayed from another host) reports its total in its progress events.
	transfers := map[[2]string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		var ev struct {
			Kind, Phase, Host, Message string
			Total                      int64
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Kind == "progress" && ev.Phase == "stage" {
			k := [2]string{ev.Host, ev.Message}
			transfers[k] = max(transfers[k], ev.Total)
		}
	}
	staged := map[string]int64{}
	for k, n := range transfers {
		staged[k[0]] += n
	}
	// Nodes import only what they run before the System registry can serve them; they pull the rest.
	pulled := (&installer.Cluster{Inv: env.inv, Bundle: newB}).PulledUpstreams()
	if len(pulled) == 0 {
		t.Fatal("the lab's nodes pull nothing from its System registry")
	}
	for _, h := range env.inv.Nodes() {
		n := airgap.Node{Name: h.Name, ControlPlane: h.Has(inventory.RoleControlPlane)}
		missing, whole, err := airgap.Moves(oldB, newB, n, pulled)
		if err != nil {
			t.Fatal(err)
		}
		figure(t, "upgrade staged on %s: %s of the %s of 1.32 content it needs (missing from 1.31: %s)", h.Name,
			airgap.HumanBytes(staged[h.Name]), airgap.HumanBytes(whole), airgap.HumanBytes(missing))
		if staged[h.Name] != missing {
			t.Errorf("the upgrade staged %d bytes on %s, want exactly the %d bytes of 1.32 content it lacked (of %d)",
				staged[h.Name], h.Name, missing, whole)
		}
	}
}

// testUpgradeRefusals: a bundle two minors ahead of the cluster, or older than it, is refused by plan and apply
// with the reason, and no host changes (no snapshot is taken, every kubelet stays).
func testUpgradeRefusals(t *testing.T, env *e2eEnv) {
	key := bundletest.NewKey(t)
	dir := t.TempDir()
	pub := filepath.Join(dir, "test.pub")
	if err := bundles.WriteKeyPair(filepath.Join(dir, "test.key"), pub, key.Private); err != nil {
		t.Fatal(err)
	}
	before := kubeletVersions(t, env.kube(t))
	snapshots := func() string {
		out, _ := env.exec(t, env.inv.ControlPlanes()[0].Name, "ls /var/lib/berth/etcd 2>/dev/null; true")
		return strings.TrimSpace(out)
	}
	snapshotsBefore := snapshots()
	for _, tc := range []struct {
		version, want string
	}{
		{"v1.33.1", "no bundle carries Kubernetes 1.32"},
		{"v1.30.9", "older than the cluster's v1.31.4: berth never downgrades"},
	} {
		b := bundletest.Write(t, dir, bundletest.Spec{KubernetesVersion: tc.version}, key)
		for _, verb := range []string{"plan", "apply"} {
			args := []string{"upgrade", verb, "-i", env.invPath, "-b", b, "--key", pub, "--state-dir", env.stateDir}
			if verb == "apply" {
				args = append(args, "--yes")
			}
			code, stdout, stderr := env.run(t, 10*time.Minute, args...)
			if code != 1 || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("upgrade %s to %s: exit %d, want 1 and %q\n%s\n%s", verb, tc.version, code, tc.want, stdout, stderr)
			}
		}
	}
	after := kubeletVersions(t, env.kube(t))
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("kubelets changed: %v -> %v", before, after)
	}
	if after := snapshots(); after != snapshotsBefore {
		t.Errorf("a refused upgrade took a snapshot: %q, before %q", after, snapshotsBefore)
	}
}

// deployWorkload runs what a well-behaved bank application does: two replicas behind a NodePort Service, a
// PodDisruptionBudget with minAvailable 1, a readiness probe and a preStop pause; and a second, "stuck" workload
// whose budget the test tightens and relaxes. It returns the web Service's node port.
func deployWorkload(t testing.TB, cs kubernetes.Interface, stuckOn string) int32 {
	t.Helper()
	ctx := context.Background()
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: upgradeNS}}, metav1.CreateOptions{})
	for _, app := range []struct {
		name     string
		replicas int32
	}{{"web", 2}, {"stuck", 1}} {
		labels := map[string]string{"app": app.name}
		var nodeSelector map[string]string
		if app.name == "stuck" { // on the worker drained first, where its budget holds the upgrade
			nodeSelector = map[string]string{"kubernetes.io/hostname": stuckOn}
		}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app.name}, Spec: appsv1.DeploymentSpec{
			Replicas: &app.replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}}}},
				TerminationGracePeriodSeconds: ptr(int64(30)), NodeSelector: nodeSelector,
				Containers: []corev1.Container{{Name: "web", Image: NetcheckImage, ImagePullPolicy: corev1.PullNever,
					Args:           []string{"serve", ":8080"},
					Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(8080)}}, PeriodSeconds: 1},
					Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
				}},
			}}}}
		if _, err := cs.AppsV1().Deployments(upgradeNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	minOne := intstr.FromInt(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets(upgradeNS).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minOne, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(upgradeNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(8080)}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = waitUntil(5*time.Minute, 2*time.Second, func() error {
		for _, name := range []string{"web", "stuck"} {
			d, err := cs.AppsV1().Deployments(upgradeNS).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Status.ReadyReplicas != *d.Spec.Replicas {
				return fmt.Errorf("deployment %s: %d of %d ready", name, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc.Spec.Ports[0].NodePort
}

// blockingBudget sets the stuck workload's budget: minAvailable 1 (all its replicas: no disruption allowed), or 0.
func blockingBudget(t testing.TB, cs kubernetes.Interface, minAvailable int) {
	t.Helper()
	ctx := context.Background()
	ma := intstr.FromInt(minAvailable)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "stuck"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &ma, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "stuck"}}}}
	if old, err := cs.PolicyV1().PodDisruptionBudgets(upgradeNS).Get(ctx, "stuck", metav1.GetOptions{}); err == nil {
		old.Spec.MinAvailable = &ma
		_, err = cs.PolicyV1().PodDisruptionBudgets(upgradeNS).Update(ctx, old, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	} else if _, err := cs.PolicyV1().PodDisruptionBudgets(upgradeNS).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := waitUntil(time.Minute, time.Second, func() error {
		p, err := cs.PolicyV1().PodDisruptionBudgets(upgradeNS).Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if want := int32(1 - minAvailable); p.Status.DisruptionsAllowed != want || p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("budget allows %d disruptions, want %d", p.Status.DisruptionsAllowed, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// killDuringWorkers starts the apply and kills berth with SIGKILL once it has begun upgrading the workers.
func killDuringWorkers(t testing.TB, env *e2eEnv, args []string) {
	t.Helper()
	cmd := exec.Command(env.berth, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(40 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("apply ended (%v) before the worker batches; output:\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("apply did not reach the workers in 40 minutes:\n%s", out.String())
		case <-time.After(500 * time.Millisecond):
		}
		if strings.Contains(out.String(), "cordon "+env.inv.Workers()[0].Name) || strings.Contains(out.String(), "==> Upgrade the workers") {
			time.Sleep(4 * time.Second) // inside the batch
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			t.Logf("berth killed with SIGKILL during the worker batches; its output:\n%s", out.String())
			return
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// kubeletVersions returns every node's kubelet version.
func kubeletVersions(t testing.TB, cs kubernetes.Interface) map[string]string {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.Name] = n.Status.NodeInfo.KubeletVersion
	}
	return out
}

// probe sends a request every 100 ms to the API through the VIP and to the workload through its NodePort (none when
// nodePort is 0), the way clients of the cluster would (keep-alive connections, a 5 s timeout), and counts what
// fails.
type probe struct {
	stopc                          chan struct{}
	wg                             sync.WaitGroup
	apiOK, apiFail, appOK, appFail atomic.Int64
	mu                             sync.Mutex
	failures                       []string
}

func startProbe(t testing.TB, env *e2eEnv, nodePort int32) *probe {
	t.Helper()
	api := apiClient(t, env)
	app := &http.Client{Timeout: 5 * time.Second}
	worker := env.inv.Workers()[0]
	appURL := fmt.Sprintf("http://%s:%d/", worker.NICs.Business.Address, nodePort)
	ns := upgradeNS
	if nodePort == 0 { // the API alone (the day-2 tests), whose namespace always exists
		ns = metav1.NamespaceSystem
	}
	apiURL := "https://" + env.inv.APIEndpoint() + "/api/v1/namespaces/" + ns
	// Ready replicas come before kube-proxy's rules for the new NodePort: the count starts once the workload has
	// answered 20 times in a row, so that what it counts is the upgrade.
	if nodePort != 0 {
		streak := 0
		if err := waitUntil(2*time.Minute, 100*time.Millisecond, func() error {
			resp, err := app.Get(appURL)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
			if err != nil {
				streak = 0
				return err
			}
			if streak++; streak < 20 {
				return fmt.Errorf("%d answers in a row", streak)
			}
			return nil
		}); err != nil {
			t.Fatalf("the workload %s does not answer steadily before the upgrade: %v", appURL, err)
		}
	}
	p := &probe{stopc: make(chan struct{})}
	for _, target := range []struct {
		cl        *http.Client
		url, what string
		ok, fail  *atomic.Int64
	}{{api, apiURL, "API", &p.apiOK, &p.apiFail}, {app, appURL, "workload", &p.appOK, &p.appFail}} {
		if target.what == "workload" && nodePort == 0 {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-p.stopc:
					return
				case <-tick.C:
					p.get(target.cl, target.url, target.what, target.ok, target.fail)
				}
			}
		}()
	}
	t.Cleanup(p.stopOnce)
	return p
}

// apiClient is an HTTP client of the API with the admin's certificate, the way a client of the cluster calls it
// (keep-alive connections, a 5 s timeout).
func apiClient(t testing.TB, env *e2eEnv) *http.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cfg.CAData) {
		t.Fatal("the kubeconfig holds no cluster CA")
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: roots}}}
}

// startBusyProbe reads a namespace through the VIP from workers goroutines, each sending its next request as soon as
// the last one is answered: many more reads in flight at any instant than startProbe's.
func startBusyProbe(t testing.TB, env *e2eEnv, workers int) *probe {
	t.Helper()
	api := apiClient(t, env)
	url := "https://" + env.inv.APIEndpoint() + "/api/v1/namespaces/" + metav1.NamespaceSystem
	p := &probe{stopc: make(chan struct{})}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stopc:
					return
				default:
					p.get(api, url, "API", &p.apiOK, &p.apiFail)
				}
			}
		}()
	}
	t.Cleanup(p.stopOnce)
	return p
}

// get sends one GET and counts its outcome: a failure is an error or any status but 200.
func (p *probe) get(cl *http.Client, url, what string, ok, fail *atomic.Int64) {
	resp, err := cl.Get(url)
	if err == nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			// The API's answer says why (a Status with a message).
			err = fmt.Errorf("%s: %.300s", resp.Status, bytes.TrimSpace(body))
		}
	}
	if err != nil {
		fail.Add(1)
		p.mu.Lock()
		if len(p.failures) < 20 {
			p.failures = append(p.failures, time.Now().Format("15:04:05.000")+" "+what+": "+err.Error())
		}
		p.mu.Unlock()
		return
	}
	ok.Add(1)
}

// stopOnce stops the probe unless it stopped already: the test's clean-up.
func (p *probe) stopOnce() {
	select {
	case <-p.stopc:
	default:
		p.stop()
	}
}

// stop ends the probe and returns the failed and total requests of the API and of the workload.
func (p *probe) stop() (failedAPI, totalAPI, failedApp, totalApp int64) {
	close(p.stopc)
	p.wg.Wait()
	return p.apiFail.Load(), p.apiFail.Load() + p.apiOK.Load(), p.appFail.Load(), p.appFail.Load() + p.appOK.Load()
}

func (p *probe) firstFailures() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.failures, "\n")
}

func ptr[T any](v T) *T { return &v }

// stepEvents returns the events berth wrote to path (--events), without the transfer progress, one per line: what a
// failed request is placed against.
func stepEvents(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.Contains(line, `"kind":"progress"`) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
