package installer_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// day2Lab is the lab of TestE2EDay2: the install's shape, under its own name.
var day2Lab = lab.Options{Name: "t-day2", ControlPlanes: 3, Workers: 2}

// TestE2EDay2 installs a fresh lab and runs only the day-2 tests, the same functions TestE2EInstall runs at its
// end. It is for working on them: it runs only when asked for by name (-run TestE2EDay2), since the shared sequence
// covers them already.
func TestE2EDay2(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs Docker, the lab and the lab bundle")
	}
	if run := flag.Lookup("test.run"); run == nil || !strings.Contains(run.Value.String(), "TestE2EDay2") {
		t.Skip("runs only when asked for by name (-run TestE2EDay2): TestE2EInstall runs the same tests")
	}
	env := freshLab(t, day2Lab)
	start := time.Now()
	if code, stdout, stderr := env.run(t, 40*time.Minute, env.installArgs()...); code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", code, stdout, stderr)
	}
	figure(t, "fresh install of the day-2 lab: %s", time.Since(start).Round(time.Second))
	t.Run("kubeconfig: the admin's, and a user's that expires", func(t *testing.T) { testKubeconfig(t, env) })
	t.Run("certs renew with no failed request", func(t *testing.T) { testCertsRenew(t, env) })
	t.Run("node remove of a worker and a control plane, then both joined again", func(t *testing.T) { testNodeRemoveAndReadd(t, env) })
}

// runJSON runs berth and decodes its stdout into v when it exits 0.
func (env *e2eEnv) runJSON(t testing.TB, timeout time.Duration, v any, args ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := env.run(t, timeout, args...)
	if code == 0 {
		if err := json.Unmarshal([]byte(stdout), v); err != nil {
			t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
	return code, stdout + stderr
}

// mode0600 fails the test unless path exists with mode 0600.
func mode0600(t testing.TB, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", path, err, st.Mode().Perm())
	}
}

// clientFor returns a client of the cluster that authenticates with a kubeconfig file.
func clientFor(t testing.TB, path string) (kubernetes.Interface, *x509.Certificate) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cfg.CertData)
	if block == nil {
		t.Fatalf("%s has no client certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cs, cert
}

// testKubeconfig fetches the admin kubeconfig and issues a user's: each is written 0600, works through the VIP,
// authenticates as who it says (the user with its groups, and no rights until bound), and the user's certificate
// expires when it was asked to. No key reaches stdout unless asked for with --out -, and the signing request is
// gone afterwards.
func testKubeconfig(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	dir := t.TempDir()
	type result struct {
		Cluster, Server, User, File string
		Groups                      []string
		Admin                       bool
		NotAfter                    time.Time
	}
	base := []string{"kubeconfig", "-i", env.invPath, "--state-dir", env.stateDir}

	admin := filepath.Join(dir, "admin.kubeconfig")
	var a result
	code, out := env.runJSON(t, 2*time.Minute, &a, append(base, "--out", admin, "-o", "json")...)
	if code != 0 || !a.Admin || a.Server != "https://"+env.inv.APIEndpoint() || a.File != admin {
		t.Fatalf("admin kubeconfig: exit %d, %+v\n%s", code, a, out)
	}
	mode0600(t, admin)
	cs, _ := clientFor(t, admin)
	if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) == 0 {
		t.Fatalf("the admin kubeconfig does not list nodes through the VIP: %v", err)
	}
	if code, out, errOut := env.run(t, 2*time.Minute, base...); code != 0 || !strings.Contains(out, env.kubeconfig()) {
		t.Errorf("admin kubeconfig to the state directory: exit %d\n%s\n%s", code, out, errOut)
	}
	mode0600(t, env.kubeconfig())

	user := filepath.Join(dir, "alice.kubeconfig")
	var u result
	start := time.Now()
	code, out = env.runJSON(t, 3*time.Minute, &u, append(base, "--user", "alice", "--groups", "sre,payments-dev", "--expiry", "2h", "--out", user, "-o", "json")...)
	slices.Sort(u.Groups)
	if code != 0 || u.Admin || u.User != "alice" || !slices.Equal(u.Groups, []string{"payments-dev", "sre"}) {
		t.Fatalf("user kubeconfig: exit %d, %+v\n%s", code, u, out)
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "client-key-data") {
		t.Errorf("a private key reached the terminal:\n%s", out)
	}
	mode0600(t, user)
	ucs, cert := clientFor(t, user)
	if !cert.NotAfter.Equal(u.NotAfter.Truncate(time.Second)) && !cert.NotAfter.Equal(u.NotAfter) {
		t.Errorf("the certificate expires %s, berth said %s", cert.NotAfter, u.NotAfter)
	}
	// The controller manager backdates a certificate's start by up to five minutes; its end is the request's
	// expirationSeconds after it signed.
	if want := start.Add(2 * time.Hour); cert.NotAfter.Before(want.Add(-6*time.Minute)) || cert.NotAfter.After(want.Add(2*time.Minute)) {
		t.Errorf("alice's certificate expires %s, want about %s (2h)", cert.NotAfter, want)
	}
	figure(t, "user kubeconfig: alice in [sre payments-dev], certificate valid %s -> %s (asked 2h)", cert.NotBefore.UTC().Format(time.TimeOnly),
		cert.NotAfter.UTC().Format(time.TimeOnly))
	review, err := ucs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("alice's kubeconfig does not authenticate: %v", err)
	}
	ui := review.Status.UserInfo
	if ui.Username != "alice" || !slices.Contains(ui.Groups, "sre") || !slices.Contains(ui.Groups, "payments-dev") || slices.Contains(ui.Groups, "system:masters") {
		t.Errorf("alice authenticates as %s in %v", ui.Username, ui.Groups)
	}
	if _, err := ucs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice, bound to nothing, listing kube-system's pods: %v, want forbidden", err)
	}
	csrs, err := env.kube(t).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=berth"})
	if err != nil || len(csrs.Items) != 0 {
		t.Errorf("berth's signing requests left in the cluster: %v %v", csrs, err)
	}

	// Only --out - prints the kubeconfig, and only the kubeconfig.
	code, stdout, stderr := env.run(t, 3*time.Minute, append(base, "--user", "ci-deployer", "--groups", "deployers", "--expiry", "15m", "--out", "-")...)
	if code != 0 || !strings.HasPrefix(stdout, "apiVersion: v1") || !strings.Contains(stdout, "client-key-data") {
		t.Errorf("--out -: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := env.run(t, time.Minute, append(base, "--user", "mallory", "--groups", "system:masters", "--out", user)...); code != 2 || !strings.Contains(stderr, "cannot be revoked") {
		t.Errorf("system:masters: exit %d, want 2\n%s", code, stderr)
	}
}

// certificateTimes reads when every certificate of every control plane expires, and which are stale.
func certificateTimes(t testing.TB, env *e2eEnv) (map[string]time.Time, []string) {
	t.Helper()
	var certs struct {
		Hosts []struct {
			Host         string
			Error        string
			Certificates []struct {
				Name     string
				NotAfter time.Time
				CA       bool
				Stale    bool
			}
		}
	}
	code, out := env.runJSON(t, 2*time.Minute, &certs, "certs", "check-expiration", "-i", env.invPath, "--state-dir", env.stateDir, "-o", "json")
	if code != 0 {
		t.Fatalf("check-expiration: exit %d\n%s", code, out)
	}
	times := map[string]time.Time{}
	var stale []string
	for _, h := range certs.Hosts {
		if h.Error != "" || len(h.Certificates) < 10 {
			t.Fatalf("%s: %d certificates read, %s", h.Host, len(h.Certificates), h.Error)
		}
		for _, c := range h.Certificates {
			key := h.Host + " " + c.Name
			if c.CA {
				key += " (CA)"
			}
			times[key] = c.NotAfter
			if c.Stale {
				stale = append(stale, key)
			}
		}
	}
	return times, stale
}

// testCertsRenew renews every control plane's certificates while a probe on this machine sends a request to the
// API through the VIP every 100 ms: no request may fail, every certificate but the CAs expires later afterwards,
// every component runs with its new certificate, and the admin kubeconfig berth keeps carries a renewed one.
func testCertsRenew(t *testing.T, env *e2eEnv) {
	before, stale := certificateTimes(t, env)
	if len(stale) > 0 {
		t.Fatalf("stale certificates before the renewal: %v", stale)
	}
	_, adminBefore := clientFor(t, env.kubeconfig())
	code, stdout, stderr := env.run(t, 2*time.Minute, "certs", "renew", "-i", env.invPath, "--state-dir", env.stateDir, "--dry-run")
	if code != 0 || strings.Count(stdout, "kubeadm certs renew all") != len(env.inv.ControlPlanes()) {
		t.Errorf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if after, _ := certificateTimes(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the dry run renewed certificates")
	}

	probe := startProbe(t, env, 0)
	time.Sleep(time.Second)
	start := time.Now()
	var res struct {
		ChangesMade int
		Kubeconfig  string
	}
	code, out := env.runJSON(t, 20*time.Minute, &res, "certs", "renew", "-i", env.invPath, "--state-dir", env.stateDir, "--yes", "-o", "json")
	took := time.Since(start)
	time.Sleep(time.Second)
	failed, total, _, _ := probe.stop()
	if code != 0 {
		t.Fatalf("certs renew: exit %d\n%s", code, out)
	}
	figure(t, "certs renew of %d control planes in %s: %d of %d API requests through the VIP failed (goal 0)",
		len(env.inv.ControlPlanes()), took.Round(time.Second), failed, total)
	if failed != 0 {
		t.Errorf("%d of %d API requests failed during the renewal; first failures:\n%s", failed, total, probe.firstFailures())
	}
	if total < 100 {
		t.Errorf("the probe sent only %d requests: it did not watch the renewal", total)
	}
	after, stale := certificateTimes(t, env)
	if len(stale) > 0 {
		t.Errorf("components still use the certificates from before the renewal: %v", stale)
	}
	for key, was := range before {
		now, ok := after[key]
		switch {
		case !ok:
			t.Errorf("%s is gone after the renewal", key)
		case strings.HasSuffix(key, "(CA)") && !now.Equal(was):
			t.Errorf("CA %s changed: %s -> %s", key, was, now)
		case !strings.HasSuffix(key, "(CA)") && !now.After(was):
			t.Errorf("%s not renewed: expires %s, as before", key, now)
		}
	}
	_, adminAfter := clientFor(t, env.kubeconfig())
	if !adminAfter.NotAfter.After(adminBefore.NotAfter) {
		t.Errorf("the admin kubeconfig berth keeps was not refreshed: it expires %s, as before", adminAfter.NotAfter)
	}
	mode0600(t, env.kubeconfig())
	if _, err := env.kube(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Errorf("the refreshed admin kubeconfig does not work: %v", err)
	}
}

// etcdMembers lists etcd's members by name, read on a control plane with etcdctl.
func etcdMembers(t testing.TB, env *e2eEnv, on string) []string {
	t.Helper()
	ip := env.inv.NodeIP(env.inv.Host(on))
	out, err := env.exec(t, on, "etcdctl --endpoints=https://"+ip+":2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt "+
		"--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key member list -w json")
	if err != nil {
		t.Fatalf("etcd member list on %s: %v", on, err)
	}
	var list struct {
		Members []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("etcd member list: %v\n%s", err, out)
	}
	var names []string
	for _, m := range list.Members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// vipHolder returns the control plane that holds the VIP.
func vipHolder(t testing.TB, env *e2eEnv) string {
	t.Helper()
	for _, h := range env.inv.ControlPlanes() {
		out, _ := env.exec(t, h.Name, "ip -o -4 addr show")
		if strings.Contains(out, " "+env.inv.ControlPlane.VIP+"/") {
			return h.Name
		}
	}
	return ""
}

// clusterBundle returns the bundle of the Kubernetes the cluster runs now: the lab bundle, or the upgrade's once the
// shared sequence upgraded it.
func clusterBundle(t *testing.T, env *e2eEnv) string {
	t.Helper()
	for _, v := range kubeletVersions(t, env.kube(t)) {
		if v == bundleVersion(t, env) {
			return env.bundle
		}
	}
	return labtest.RequireUpgradeBundle(t)
}

// removeArgs are the flags of berth node remove on this lab.
func (env *e2eEnv) removeArgs(node string, extra ...string) []string {
	return append([]string{"node", "remove", "-i", env.invPath, "--state-dir", env.stateDir, node}, extra...)
}

// heldWorkload runs one pod on node under a PodDisruptionBudget that allows no disruption, with the pause image
// every node has: a drain of node cannot evict it.
func heldWorkload(t testing.TB, env *e2eEnv, cs kubernetes.Interface, node string) {
	t.Helper()
	ctx := context.Background()
	image, err := env.exec(t, node, "ctr -n k8s.io images ls -q | grep '/pause:' | head -n 1")
	if err != nil || image == "" {
		t.Fatalf("no pause image on %s: %v", node, err)
	}
	const ns = "berth-day2"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	labels := map[string]string{"app": "held"}
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "held"}, Spec: appsv1.DeploymentSpec{Replicas: &one,
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": node},
			TerminationGracePeriodSeconds: ptr(int64(1)),
			Containers:                    []corev1.Container{{Name: "pause", Image: strings.TrimSpace(image), ImagePullPolicy: corev1.PullNever}},
		}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	minOne := intstr.FromInt(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "held"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minOne, Selector: &metav1.LabelSelector{MatchLabels: labels}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = waitUntil(3*time.Minute, time.Second, func() error {
		p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.CurrentHealthy != 1 || p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("budget: %d healthy", p.Status.CurrentHealthy)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// relaxHeld lets the held workload's budget allow a disruption.
func relaxHeld(t testing.TB, cs kubernetes.Interface) {
	t.Helper()
	if err := cs.PolicyV1().PodDisruptionBudgets("berth-day2").Delete(context.Background(), "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// testNodeRemoveAndReadd removes a worker (berth killed with SIGKILL half-way and run again) and a control plane
// (the one holding the VIP, while a probe sends a request to the API through the VIP every 100 ms), after the
// refusals that must change nothing: an unknown name, a budget that holds the drain, a removal that would leave
// etcd without a healthy quorum. Then berth install with the same inventory joins both again.
func testNodeRemoveAndReadd(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	cs := env.kube(t)
	cps := env.inv.ControlPlanes()
	worker := env.inv.Workers()[len(env.inv.Workers())-1].Name
	target := vipHolder(t, env)
	if target == "" {
		t.Fatal("no control plane holds the VIP")
	}
	var others []string
	for _, h := range cps {
		if h.Name != target {
			others = append(others, h.Name)
		}
	}
	lbFiles := "cat /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf | sha256sum"
	lbBefore := map[string]string{}
	for _, h := range cps {
		lbBefore[h.Name], _ = env.exec(t, h.Name, lbFiles)
	}
	unchanged := func(t *testing.T, after string) {
		t.Helper()
		for _, h := range cps {
			if now, _ := env.exec(t, h.Name, lbFiles); now != lbBefore[h.Name] {
				t.Errorf("%s: haproxy or keepalived on %s changed", after, h.Name)
			}
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, worker, metav1.GetOptions{})
		if err != nil || n.Spec.Unschedulable {
			t.Errorf("%s: node %s is gone or cordoned (%v)", after, worker, err)
		}
		if names := etcdMembers(t, env, others[0]); len(names) != len(cps) {
			t.Errorf("%s: etcd members %v", after, names)
		}
	}

	heldWorkload(t, env, cs, worker)
	t.Run("refusals change nothing", func(t *testing.T) {
		typo := worker[:1] + worker[2:3] + worker[1:2] + worker[3:] // worker2 -> wroker2
		code, stdout, stderr := env.run(t, 5*time.Minute, env.removeArgs(typo, "--yes")...)
		if code != 1 || !strings.Contains(stderr, "did you mean "+worker+"?") {
			t.Errorf("unknown node %s: exit %d, want 1 and a suggestion\n%s\n%s", typo, code, stdout, stderr)
		}
		code, stdout, stderr = env.run(t, 5*time.Minute, env.removeArgs(worker, "--yes")...)
		if code != 1 || !strings.Contains(stderr, "PodDisruptionBudget berth-day2/held allows no disruption now") || !strings.Contains(stderr, "fix:") {
			t.Errorf("a budget holding %s's drain: exit %d, want 1 and the budget named\n%s\n%s", worker, code, stdout, stderr)
		}
		unchanged(t, "the refusal of a held drain")

		// etcd degraded: one member stopped (its static pod moved aside). Removing another would leave one of two.
		down := others[0]
		if _, err := env.exec(t, down, "mkdir -p /etc/kubernetes/day2-test && mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/day2-test/"); err != nil {
			t.Fatal(err)
		}
		restored := false
		restore := func() {
			if !restored {
				restored = true
				env.exec(t, down, "mv /etc/kubernetes/day2-test/etcd.yaml /etc/kubernetes/manifests/etcd.yaml")
			}
		}
		defer restore()
		if err := waitUntil(2*time.Minute, time.Second, func() error {
			if _, err := env.exec(t, down, "! pgrep -x etcd"); err != nil {
				return fmt.Errorf("etcd still runs on %s", down)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr = env.run(t, 5*time.Minute, env.removeArgs(target, "--yes")...)
		want := fmt.Sprintf("removing %s would leave etcd with %d members of which %d healthy", target, len(cps)-1, len(cps)-2)
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "bring "+down+" back first") {
			t.Errorf("removal of %s with %s's etcd down: exit %d, want 1 and %q\n%s\n%s", target, down, code, want, stdout, stderr)
		}
		t.Logf("the quorum refusal:\n%s", stderr)
		restore()
		waitWhole(t, env, down)
		unchanged(t, "the quorum refusal")
	})
	if t.Failed() {
		return
	}

	t.Run("a worker, berth killed half-way", func(t *testing.T) {
		relaxHeld(t, cs)
		cmd := exec.Command(env.berth, env.removeArgs(worker, "--yes")...)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		for killed := false; !killed; {
			select {
			case err := <-done:
				t.Fatalf("the removal ended (%v) before the reset; output:\n%s", err, out.String())
			case <-time.After(200 * time.Millisecond):
			}
			if time.Since(start) > 10*time.Minute {
				cmd.Process.Kill()
				t.Fatalf("the removal did not reach the reset in 10 minutes:\n%s", out.String())
			}
			if strings.Contains(out.String(), "==> Remove the cluster from the hosts") {
				time.Sleep(2 * time.Second) // inside the reset
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-done
				killed = true
			}
		}
		t.Logf("berth killed with SIGKILL during the reset of %s; its output:\n%s", worker, out.String())
		code, stdout, stderr := env.run(t, 15*time.Minute, env.removeArgs(worker, "--yes")...)
		if code != 0 || !strings.Contains(stderr, "done in an earlier run") {
			t.Fatalf("the removal run again: exit %d, want 0 and a resume\n%s\n%s", code, stdout, stderr)
		}
		figure(t, "node remove of worker %s, killed during the reset and resumed: %s in all", worker, time.Since(start).Round(time.Second))
		if _, err := cs.CoreV1().Nodes().Get(ctx, worker, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("node %s still registered: %v", worker, err)
		}
		if out, _ := env.exec(t, worker, "ls -d /etc/kubernetes /var/lib/berth /var/lib/kubelet/pki 2>/dev/null; systemctl is-active kubelet containerd; true"); strings.Contains(out, "/etc/kubernetes") ||
			strings.Contains(out, "/var/lib/berth") || strings.Contains(out, "\nactive") || strings.HasPrefix(out, "active") {
			t.Errorf("%s not reset:\n%s", worker, out)
		}
		if out, _ := env.exec(t, worker, "nft list tables; ls "+planes.FirewallUnitPath+" "+planes.FirewallPath+" 2>/dev/null; true"); strings.Contains(out, "berth") {
			t.Errorf("the reset left berth's firewall on %s:\n%s", worker, out)
		}
		var again struct{ ChangesMade int }
		if code, out := env.runJSON(t, 10*time.Minute, &again, env.removeArgs(worker, "--yes", "-o", "json")...); code != 0 || again.ChangesMade != 0 {
			t.Errorf("the finished removal run again: exit %d, %d changes, want 0\n%s", code, again.ChangesMade, out)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("the control plane holding the VIP, with no failed request", func(t *testing.T) {
		probe := startProbe(t, env, 0)
		time.Sleep(time.Second)
		start := time.Now()
		var res struct {
			ChangesMade int
			Removal     struct {
				ControlPlane bool
				Steps        []string
			}
		}
		events := filepath.Join(t.TempDir(), "events.jsonl")
		code, out := env.runJSON(t, 20*time.Minute, &res, env.removeArgs(target, "--yes", "-o", "json", "--events", events)...)
		took := time.Since(start)
		time.Sleep(time.Second)
		failed, total, _, _ := probe.stop()
		if code != 0 || !res.Removal.ControlPlane {
			t.Fatalf("node remove %s: exit %d\n%s", target, code, out)
		}
		figure(t, "node remove of control plane %s (it held the VIP) in %s: %d of %d API requests through the VIP failed (goal 0)",
			target, took.Round(time.Second), failed, total)
		if failed != 0 {
			t.Errorf("%d of %d API requests failed during the removal; first failures:\n%s\nwhat berth did, and when:\n%s", failed, total,
				probe.firstFailures(), stepEvents(events))
		}
		if total < 50 {
			t.Errorf("the probe sent only %d requests: it did not watch the removal", total)
		}
		if names := etcdMembers(t, env, others[0]); len(names) != len(cps)-1 || slices.Contains(names, target) {
			t.Errorf("etcd members after the removal: %v", names)
		}
		peer := env.inv.Host(target).AddressOn(env.inv.ControlPlane.VIPPlane)
		for _, h := range others {
			conf, err := env.exec(t, h, "cat /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range lines(conf) {
				if f := strings.Fields(line); slices.Equal(f, []string{peer}) || (len(f) > 1 && f[0] == "server" && f[1] == target) {
					t.Errorf("%s's haproxy or keepalived still names %s: %q", h, target, line)
				}
			}
		}
		if holder := vipHolder(t, env); holder == "" || holder == target {
			t.Errorf("the VIP is on %q after the removal", holder)
		}
		if _, err := cs.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("node %s still registered: %v", target, err)
		}
		if out, _ := env.exec(t, target, "ls -d /etc/kubernetes /var/lib/etcd/member 2>/dev/null; true"); strings.TrimSpace(out) != "" {
			t.Errorf("%s not reset: %s", target, out)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("berth install joins both again", func(t *testing.T) {
		bundle := clusterBundle(t, env)
		start := time.Now()
		code, stdout, stderr := env.run(t, 40*time.Minute, "install", "-i", env.invPath, "-b", bundle, "--key", env.key, "--state-dir", env.stateDir, "--yes")
		if code != 0 {
			t.Fatalf("install with %s and %s listed again: exit %d\n%s\n%s", worker, target, code, stdout, stderr)
		}
		figure(t, "berth install joined %s and %s again in %s", worker, target, time.Since(start).Round(time.Second))
		waitWhole(t, env, target+" and "+worker)
		if names := etcdMembers(t, env, target); len(names) != len(cps) || !slices.Contains(names, target) {
			t.Errorf("etcd members after the join: %v", names)
		}
		for _, h := range cps {
			if conf, _ := env.exec(t, h.Name, "cat /etc/haproxy/haproxy.cfg"); !strings.Contains(conf, "server "+target+" ") {
				t.Errorf("%s's haproxy does not send to %s again", h.Name, target)
			}
		}
	})
}
