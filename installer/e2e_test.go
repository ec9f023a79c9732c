package installer_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
)

// installLab is the lab every end-to-end test of the install shares: three control planes, two workers, and a host
// of the storage zone (management and storage NICs only, no Kubernetes node) that the install must leave alone.
var installLab = lab.Options{Name: "t-install", ControlPlanes: 3, Workers: 2, Registries: 2, Storage: 1}

// TestE2EInstall installs a real HA cluster on a fresh lab from the lab bundle, with every host's egress blocked,
// and checks it the way an operator would: through the VIP, across workers, after killing berth mid-join, on a
// second install, and with the VIP's holder stopped.
func TestE2EInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs Docker, the lab and the lab bundle")
	}
	env := freshLab(t, installLab)
	ctx := context.Background()
	for _, h := range env.lab.Hosts {
		if err := env.lab.BlockEgress(ctx, h.Name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, h := range env.lab.Hosts {
			env.lab.UnblockEgress(context.Background(), h.Name)
		}
	})

	t.Run("bad input is refused before any host changes", func(t *testing.T) { testRefusals(t, env) })
	t.Run("dry run changes nothing", func(t *testing.T) { testDryRun(t, env) })
	if !t.Run("install killed during the control-plane join resumes", func(t *testing.T) { testInstallKilledAndResumed(t, env) }) {
		t.FailNow()
	}
	t.Run("join secrets are in no host's journal, log or command line", func(t *testing.T) { env.secrets.check(t, env) })
	t.Run("egress stayed blocked", func(t *testing.T) {
		st, err := env.lab.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range st {
			if !h.EgressBlocked {
				t.Errorf("%s could reach beyond the lab's planes during the install", h.Name)
			}
		}
	})
	t.Run("cluster is healthy through the VIP", func(t *testing.T) { testHealthy(t, env) })
	t.Run("the storage-zone host is no node and was left alone", func(t *testing.T) { testNoNodeHostsUntouched(t, env) })
	t.Run("the System registry runs on both registry hosts with the bundle's images", func(t *testing.T) { testRegistries(t, env) })
	t.Run("pods on different workers reach each other", func(t *testing.T) { testPodNetwork(t, env) })
	t.Run("each kind of traffic goes on its plane", func(t *testing.T) { testPlaneTraffic(t, env) })
	t.Run("the firewall keeps pods and the business plane off management and control", func(t *testing.T) { testFirewall(t, env) })
	t.Run("the default StorageClass gives pods volumes that outlive them", func(t *testing.T) { testLocalPath(t, env) })
	t.Run("second install is a no-op", func(t *testing.T) { testNoOp(t, env) })
	t.Run("a moved VIP is refused before any host changes", func(t *testing.T) { testMovedVIP(t, env) })
	t.Run("status reports the cluster", func(t *testing.T) { testStatus(t, env) })
	t.Run("cluster DNS", func(t *testing.T) { testDNS(t, env) })
	t.Run("API answers through the VIP when its holder stops", func(t *testing.T) { testVIPFailover(t, env) })
	t.Run("the API client fails over when the control plane it rides on stops", func(t *testing.T) { testKubeFailover(t, env) })
	t.Run("etcd's leadership moves under busy readers and no read fails", func(t *testing.T) { testLeaderHandOffs(t, env) })
	t.Run("rolling upgrade to the next minor with no failed request", func(t *testing.T) { testUpgrade(t, env) })
	t.Run("etcd backup and restore", func(t *testing.T) { testEtcdBackupRestore(t, env) })
	t.Run("kubeconfig: the admin's, and a user's that expires", func(t *testing.T) { testKubeconfig(t, env) })
	t.Run("certs renew with no failed request", func(t *testing.T) { testCertsRenew(t, env) })
	t.Run("node remove of a worker and a control plane, then both joined again", func(t *testing.T) { testNodeRemoveAndReadd(t, env) })
}

// testNoNodeHostsUntouched: the lab's storage-zone host, with NICs on the management and storage planes only, is in
// the inventory the cluster was installed from, yet is no node of it and carries nothing of the install. (The
// registry hosts are no nodes either, and carry the registries: testRegistries.)
func testNoNodeHostsUntouched(t *testing.T, env *e2eEnv) {
	var others []string
	for _, h := range env.inv.Hosts {
		if !h.IsNode() && !h.Has(inventory.RoleRegistry) {
			others = append(others, h.Name)
		}
	}
	if len(others) == 0 {
		t.Fatal("the shared lab has no host that is no Kubernetes node")
	}
	nodes, err := env.kube(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range others {
		for _, n := range nodes.Items {
			if n.Name == name {
				t.Errorf("%s, no Kubernetes node in the inventory, joined the cluster", name)
			}
		}
		// (the lab mounts an empty volume on /var/lib/kubelet of every host: what counts is that it stays empty)
		out, err := env.exec(t, name, "ls -d /etc/kubernetes /etc/containerd/config.toml 2>/dev/null; find /var/lib/kubelet -mindepth 1 -maxdepth 1 2>/dev/null; systemctl is-active kubelet containerd 2>/dev/null | grep -x active; true")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("the install changed %s, which is no node: %q %v", name, out, err)
		}
		// All it gets is berth's firewall: nftables from the bundle, and the rules.
		out, err = env.exec(t, name, "ls /etc/berth 2>/dev/null; cat /var/lib/berth/installed-packages 2>/dev/null; true")
		want := ""
		if env.inv.Firewall != nil && env.inv.Firewall.Enabled {
			want = "firewall.applied firewall.nft"
		}
		got := strings.Fields(out)
		if err != nil || !strings.HasPrefix(strings.Join(got, " "), want) || !slices.Contains(got, "nftables") != (want == "") ||
			strings.Contains(out, "containerd") || strings.Contains(out, "keepalived") {
			t.Errorf("%s, which is no node, holds more of berth than its firewall (want %q and the nftables packages): %q %v", name, want, out, err)
		}
	}
}

// untouched fails the test when any node carries a trace of berth.
func untouched(t *testing.T, env *e2eEnv, after string) {
	t.Helper()
	for _, h := range env.inv.Nodes() {
		out, err := env.exec(t, h.Name, "ls -d /var/lib/berth /etc/kubernetes /etc/containerd/config.toml /etc/berth 2>/dev/null; true")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("%s changed %s: %q %v", after, h.Name, out, err)
		}
	}
}

// testRefusals: a tampered bundle, an unreachable host and a missing NIC each stop the install with an error that
// names them, before any host is touched.
func testRefusals(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	t.Run("tampered bundle", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "tampered.tar")
		data, err := os.ReadFile(env.bundle)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := env.installArgs()
		for i, a := range args {
			if a == env.bundle {
				args[i] = bad
			}
		}
		code, _, stderr := env.run(t, 5*time.Minute, args...)
		if code == 0 || !strings.Contains(stderr, "tampered.tar") {
			t.Errorf("tampered bundle: exit %d\n%s", code, stderr)
		}
		untouched(t, env, "a tampered bundle")
	})
	t.Run("unreachable host", func(t *testing.T) {
		if err := env.lab.StopHost(ctx, "worker2"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := env.lab.StartHost(ctx, "worker2"); err != nil {
				t.Fatal(err)
			}
		}()
		code, _, stderr := env.run(t, 5*time.Minute, env.installArgs()...)
		if code == 0 || !strings.Contains(stderr, "worker2") || !strings.Contains(stderr, "Connect to hosts") {
			t.Errorf("unreachable worker2: exit %d\n%s", code, stderr)
		}
	})
	untouched(t, env, "an unreachable host")
	t.Run("missing NIC", func(t *testing.T) {
		if err := env.lab.DisconnectNIC(ctx, "cp3", "storage"); err != nil {
			t.Fatal(err)
		}
		defer env.lab.ReconnectNIC(ctx, "cp3", "storage")
		code, _, stderr := env.run(t, 5*time.Minute, env.installArgs()...)
		if code == 0 || !strings.Contains(stderr, "cp3") || !strings.Contains(stderr, "storage") || !strings.Contains(stderr, "Preflight") {
			t.Errorf("cp3 without its storage NIC: exit %d\n%s", code, stderr)
		}
		untouched(t, env, "a missing NIC")
	})
}

func testDryRun(t *testing.T, env *e2eEnv) {
	code, stdout, stderr := env.run(t, 10*time.Minute, env.installArgs("--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"kubeadm init", "kubeadm join", "Debian packages from the bundle", "images into containerd", "create /etc/haproxy/haproxy.cfg"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
	untouched(t, env, "the dry run")

	// One phase of the install on hosts that have no cluster yet: the join secrets, which every run makes when a
	// node still has to join, wait for the init phase instead of asking a cluster that is not there.
	code, stdout, stderr = env.run(t, 10*time.Minute, "install", "phase", "preflight", "-i", env.invPath, "-b", env.bundle, "--key", env.key,
		"--state-dir", t.TempDir(), "--yes")
	if code != 0 || !strings.Contains(stdout+stderr, "Preflight checks: ok") {
		t.Errorf("install phase preflight before any cluster: exit %d\n%s\n%s", code, stdout, stderr)
	}
	untouched(t, env, "install phase preflight")
}

// testInstallKilledAndResumed starts the install, SIGKILLs berth while the second control plane joins, and runs
// the install again, which must resume and finish.
func testInstallKilledAndResumed(t *testing.T, env *e2eEnv) {
	env.secrets = startSecretWatch(t, env)
	cmd := exec.Command(env.berth, env.installArgs()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cp2 := env.inv.ControlPlanes()[1].Name
	killed := false
	for !killed {
		select {
		case err := <-done:
			t.Fatalf("install ended (%v) before %s joined; output:\n%s", err, cp2, out.String())
		case <-time.After(time.Second):
		}
		if time.Since(start) > 40*time.Minute {
			cmd.Process.Kill()
			t.Fatalf("install did not reach the control-plane join in 40 minutes:\n%s", out.String())
		}
		if state, _ := env.exec(t, cp2, "systemctl is-active berth-kubeadm || true"); strings.TrimSpace(state) == "active" {
			time.Sleep(3 * time.Second) // well inside kubeadm join
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			killed = true
		}
	}
	t.Logf("berth killed with SIGKILL %s into the install, during the join of %s", time.Since(start).Round(time.Second), cp2)
	first := out.String()
	env.secrets.snapshot(t, env) // kubeadm init's token and certificate upload; the resumed run makes new ones

	resume := time.Now()
	code, stdout, stderr := env.run(t, 40*time.Minute, env.installArgs()...)
	if code != 0 {
		t.Fatalf("resumed install exit %d\nfirst run:\n%s\nsecond run:\n%s\n%s", code, first, stdout, stderr)
	}
	figure(t, "resumed install finished in %s (whole install, killed run included, %s)", time.Since(resume).Round(time.Second), time.Since(start).Round(time.Second))
	t.Logf("resumed install:\n%s", stdout)
	env.secrets.snapshot(t, env)
	if !strings.Contains(stderr, "done in an earlier run") {
		t.Errorf("the second run did not resume from the journal:\n%s", stderr)
	}
	if !strings.Contains(stdout, "runs Kubernetes") {
		t.Errorf("no summary:\n%s", stdout)
	}
	st, err := os.Stat(env.kubeconfig())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: mode %v, %v; want 0600", env.kubeconfig(), st.Mode().Perm(), err)
	}
}

func testHealthy(t *testing.T, env *e2eEnv) {
	cs := env.kube(t)
	ctx := context.Background()
	version := bundleVersion(t, env)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes through the VIP: %v", err)
	}
	if len(nodes.Items) != 5 {
		t.Fatalf("%d nodes, want 5", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || n.Status.NodeInfo.KubeletVersion != version {
			t.Errorf("node %s: ready %v, kubelet %s (want %s)", n.Name, ready, n.Status.NodeInfo.KubeletVersion, version)
		}
		want := env.inv.NodeIP(env.inv.Host(n.Name))
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != want {
				t.Errorf("node %s has InternalIP %s, want its control-plane NIC %s", n.Name, a.Address, want)
			}
		}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("kube-system pod %s is %s", p.Name, p.Status.Phase)
		}
	}
	if len(pods.Items) < 3*4+5 {
		t.Errorf("only %d kube-system pods (want 3x apiserver, controller-manager, scheduler, etcd + 5 kube-proxy)", len(pods.Items))
	}
	raw, _ := os.ReadFile(env.kubeconfig())
	if !strings.Contains(string(raw), "server: https://"+env.inv.APIEndpoint()) {
		t.Errorf("kubeconfig does not point at the VIP %s", env.inv.APIEndpoint())
	}
}

func bundleVersion(t *testing.T, env *e2eEnv) string {
	code, stdout, stderr := env.run(t, time.Minute, "bundle", "inspect", env.bundle, "--key", env.key, "-o", "json")
	if code != 0 {
		t.Fatalf("inspect: %s", stderr)
	}
	var m struct {
		Manifest struct {
			KubernetesVersion string `json:"kubernetesVersion"`
		} `json:"manifest"`
		KubernetesVersion string `json:"kubernetesVersion"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatal(err)
	}
	if m.Manifest.KubernetesVersion != "" {
		return m.Manifest.KubernetesVersion
	}
	return m.KubernetesVersion
}

// testPodNetwork runs a server pod on one worker and a client pod on the other.
func testPodNetwork(t *testing.T, env *e2eEnv) {
	env.loadNetcheck(t)
	cs := env.kube(t)
	ctx := context.Background()
	workers := env.inv.Workers()
	ns := "berth-e2e"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	ip := startNetcheckServer(t, cs, ns, workers[0].Name)
	client := netcheckPod("client", workers[1].Name, "get", "http://"+ip+":8080/", "60")
	client.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitPod(cs, ns, "client", corev1.PodSucceeded, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if logs := podLogs(cs, ns, "client"); !strings.Contains(logs, "netcheck on server") {
		t.Errorf("client on %s did not reach the server on %s: %q", workers[1].Name, workers[0].Name, logs)
	}
}

// startNetcheckServer runs a netcheck server pod called server on node, in namespace ns, and returns its address.
func startNetcheckServer(t *testing.T, cs kubernetes.Interface, ns, node string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, netcheckPod("server", node, "serve", ":8080"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	err := waitUntil(3*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "server", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("server pod is %s", p.Status.Phase)
		}
		ip = p.Status.PodIP
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

func netcheckPod(name, node string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "netcheck", Image: NetcheckImage, ImagePullPolicy: corev1.PullNever, Args: args}},
		},
	}
}

func podLogs(cs kubernetes.Interface, ns, name string) string {
	b, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func testNoOp(t *testing.T, env *e2eEnv) {
	for _, args := range [][]string{env.installArgs("-o", "json"), env.installArgs("-o", "json", "--restart")} {
		code, stdout, stderr := env.run(t, 15*time.Minute, args...)
		if code != 0 {
			t.Fatalf("berth %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		var res struct {
			ChangesMade int `json:"changesMade"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if res.ChangesMade != 0 {
			t.Errorf("berth %v made %d changes on an installed cluster:\n%s", args[len(args)-1], res.ChangesMade, stderr)
		}
	}
}

// testMovedVIP installs with an inventory whose VIP differs from the installed cluster's: berth refuses after
// reading the hosts, and no load balancer configuration changes.
func testMovedVIP(t *testing.T, env *e2eEnv) {
	old := ""
	moved, inv := env.editedInventory(t, "moved-vip", func(inv *inventory.Inventory) {
		old = inv.APIEndpoint()
		inv.ControlPlane.VIP = netip.MustParseAddr(inv.ControlPlane.VIP).Prev().String()
	})
	const lbFiles = "sha256sum /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg /etc/kubernetes/admin.conf"
	before := map[string]string{}
	for _, h := range env.inv.ControlPlanes() {
		before[h.Name], _ = env.exec(t, h.Name, lbFiles)
	}
	code, stdout, stderr := env.run(t, 10*time.Minute, "install", "-i", moved, "-b", env.bundle, "--key", env.key, "--state-dir", env.stateDir, "--yes")
	if code == 0 || !strings.Contains(stderr, "joined the cluster at "+old) || !strings.Contains(stderr, "does not move an installed cluster") {
		t.Errorf("install with the VIP moved from %s to %s: exit %d\n%s\n%s", old, inv.ControlPlane.VIP, code, stdout, stderr)
	}
	for _, h := range env.inv.ControlPlanes() {
		if after, _ := env.exec(t, h.Name, lbFiles); after != before[h.Name] {
			t.Errorf("%s changed after the refusal:\nbefore %s\nafter  %s", h.Name, before[h.Name], after)
		}
	}
}

func testStatus(t *testing.T, env *e2eEnv) {
	code, stdout, stderr := env.run(t, 5*time.Minute, "status", "-i", env.invPath, "--state-dir", env.stateDir, "-o", "json")
	var st struct {
		Registries []installer.RegistryStatus
		VIPHolder  string
		VIPAnswers bool
		Nodes      []struct {
			Name  string
			Ready bool
		}
		Etcd []struct {
			Host            string
			Healthy, Leader bool
		}
		APIServers []struct {
			Host    string
			Healthy bool
		}
		Listeners []installer.HostListeners
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	testListeners(t, env, st.Listeners)
	if !st.VIPAnswers || st.VIPHolder == "" || len(st.Nodes) != 5 || len(st.Etcd) != 3 || len(st.APIServers) != 3 {
		t.Errorf("status = %+v", st)
	}
	leaders := 0
	for _, e := range st.Etcd {
		if !e.Healthy {
			t.Errorf("etcd on %s unhealthy", e.Host)
		}
		if e.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d etcd leaders", leaders)
	}
	for _, a := range st.APIServers {
		if !a.Healthy {
			t.Errorf("API server on %s not ready", a.Host)
		}
	}
	// Every replica of both registries answers as a client reads it, serves images and agrees with its peer.
	if code != 0 || len(st.Registries) != 4 {
		t.Errorf("status: exit %d, %d registry replicas (want 4)\n%s", code, len(st.Registries), stderr)
	}
	for _, r := range st.Registries {
		if !r.Reachable || !r.InSync || r.Images == 0 {
			t.Errorf("registry %s on %s (%s): %+v", r.Registry, r.Host, r.Address, r)
		}
	}
	_, text, _ := env.run(t, 5*time.Minute, "status", "-i", env.invPath, "--state-dir", env.stateDir)
	t.Logf("berth status:\n%s", text)
}

// testListeners checks the listeners berth status reads on every host: each service berth runs is on its plane's
// address (the API server, etcd and the kubelet on control, haproxy on the API's VIP, sshd on management, each
// registry on its plane and its VIP), and no program of berth's listens on every address. A listener rebound to
// every address fails here.
func testListeners(t *testing.T, env *e2eEnv, hosts []installer.HostListeners) {
	if len(hosts) != len(env.inv.Hosts) {
		t.Fatalf("status read the listeners of %d hosts, want all %d", len(hosts), len(env.inv.Hosts))
	}
	type want struct {
		port    int
		process string
		plane   inventory.PlaneName
		addr    string // "": the host's address on plane
	}
	n := 0
	for _, hl := range hosts {
		h := env.inv.Host(hl.Host)
		if hl.Error != "" || h == nil {
			t.Errorf("listeners of %s: %s", hl.Host, hl.Error)
			continue
		}
		n += len(hl.Listeners)
		wants := []want{{port: 22, process: "sshd", plane: inventory.Management}}
		if h.IsNode() {
			wants = append(wants, want{port: 10250, process: "kubelet", plane: inventory.Control})
		}
		if h.Has(inventory.RoleControlPlane) {
			wants = append(wants, want{port: 6444, process: "kube-apiserver", plane: inventory.Control},
				want{port: 2379, process: "etcd", plane: inventory.Control}, want{port: 2380, process: "etcd", plane: inventory.Control},
				want{port: env.inv.ControlPlane.Port, process: "haproxy", plane: env.inv.ControlPlane.VIPPlane, addr: env.inv.ControlPlane.VIP})
		}
		for _, r := range env.inv.Registries {
			if slices.Contains(r.Hosts, h.Name) {
				wants = append(wants, want{port: r.Port, process: "berth-registry", plane: r.Plane})
				if r.VIP != "" {
					wants = append(wants, want{port: r.Port, process: "berth-registry", plane: r.Plane, addr: r.VIP})
				}
			}
		}
		for _, w := range wants {
			if w.addr == "" {
				w.addr = h.AddressOn(w.plane)
			}
			found := false
			for _, l := range hl.Listeners {
				if l.Port == w.port && l.Process == w.process && l.Address == w.addr && l.Plane == string(w.plane) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no %s listening on %s:%d (%s); it listens on %v", h.Name, w.process, w.addr, w.port, w.plane, hl.Listeners)
			}
		}
		for _, l := range hl.Listeners {
			if l.Berth && l.Wildcard() {
				t.Errorf("%s: berth's %s listens on every address, so on every plane: %s", h.Name, l.Process, l)
			}
		}
	}
	figure(t, "listeners: %d sockets on %d hosts, each of berth's on its plane's address, a VIP or loopback; none of berth's on every address", n, len(hosts))

	// preflight on the installed cluster says the same, host by host.
	var rep struct {
		Results []struct{ Host, Check, Status, Detail string }
	}
	_, stdout, stderr := env.run(t, 5*time.Minute, "preflight", "-i", env.invPath, "--installed", "-o", "json")
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("preflight --installed: %v\n%s\n%s", err, stdout, stderr)
	}
	checked := map[string]bool{}
	for _, r := range rep.Results {
		if r.Check == "listeners" {
			checked[r.Host] = true
			if r.Status != "ok" {
				t.Errorf("preflight --installed on %s: listeners %s: %s", r.Host, r.Status, r.Detail)
			}
		}
	}
	if len(checked) != len(env.inv.Hosts) {
		t.Errorf("preflight --installed checked the listeners of %d hosts, want all %d", len(checked), len(env.inv.Hosts))
	}
}

// testVIPFailover stops the control plane holding the VIP and measures how long the API does not answer through
// the VIP.
func testVIPFailover(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	holder := ""
	for _, h := range env.inv.ControlPlanes() {
		out, _ := env.exec(t, h.Name, "ip -o -4 addr show")
		if strings.Contains(out, " "+env.inv.ControlPlane.VIP+"/") {
			holder = h.Name
		}
	}
	if holder == "" {
		t.Fatal("no control plane holds the VIP")
	}
	url := "https://" + env.inv.APIEndpoint() + "/readyz"
	client := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} //nolint:gosec // liveness probe of a test cluster
	probe := func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !probe() {
		t.Fatal("the API does not answer through the VIP before the test")
	}
	var mu sync.Mutex
	var lastOK, firstDown, backAt time.Time
	stop := make(chan struct{})
	stopped := time.Time{}
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
			ok, now := probe(), time.Now()
			mu.Lock()
			switch {
			case ok && !stopped.IsZero() && !firstDown.IsZero() && backAt.IsZero():
				backAt = now
			case ok && firstDown.IsZero():
				lastOK = now // the last answer before the outage
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
	err := waitUntil(2*time.Minute, 200*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if backAt.IsZero() && !firstDown.IsZero() {
			return fmt.Errorf("the API has not answered through the VIP since %s stopped", holder)
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
	figure(t, "VIP failover: %s stopped; the API did not answer through the VIP for %s (goal <= 5s)", holder, gap.Round(10*time.Millisecond))
	newHolder := ""
	for _, h := range env.inv.ControlPlanes() {
		if h.Name == holder {
			continue
		}
		out, _ := env.exec(t, h.Name, "ip -o -4 addr show")
		if strings.Contains(out, " "+env.inv.ControlPlane.VIP+"/") {
			newHolder = h.Name
		}
	}
	if newHolder == "" {
		t.Error("no other control plane took the VIP")
	}
	// Bring the host back and wait for the cluster to be whole again, for the tests that follow.
	if err := env.lab.StartHost(ctx, holder); err != nil {
		t.Fatal(err)
	}
	waitWhole(t, env, holder)
}

// waitWhole waits until every node is Ready, every etcd member healthy and the API answers through the VIP again,
// after host came back.
func waitWhole(t *testing.T, env *e2eEnv, host string) {
	t.Helper()
	err := waitUntil(5*time.Minute, 5*time.Second, func() error {
		_, stdout, _ := env.run(t, 2*time.Minute, "status", "-i", env.invPath, "-o", "json")
		var st struct {
			VIPAnswers bool
			Nodes      []struct{ Ready bool }
			Etcd       []struct{ Healthy bool }
		}
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			return err
		}
		ok := st.VIPAnswers && len(st.Nodes) == 5 && len(st.Etcd) == 3
		for _, n := range st.Nodes {
			ok = ok && n.Ready
		}
		for _, e := range st.Etcd {
			ok = ok && e.Healthy
		}
		if !ok {
			return fmt.Errorf("cluster not whole after %s came back:\n%s", host, stdout)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testKubeFailover builds berth's API client over tunnels to every control plane, the first one a control plane
// that does not hold the VIP, makes a call through it, stops that host, and checks that the very next call
// succeeds through another control plane.
func testKubeFailover(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	var rider string
	var tunnels []kube.Tunnel
	for _, h := range env.inv.ControlPlanes() {
		out, _ := env.exec(t, h.Name, "ip -o -4 addr show")
		if rider == "" && !strings.Contains(out, " "+env.inv.ControlPlane.VIP+"/") {
			rider = h.Name
		}
	}
	order := []string{rider}
	for _, h := range env.inv.ControlPlanes() {
		if h.Name != rider {
			order = append(order, h.Name)
		}
	}
	for _, name := range order {
		e, err := env.pool.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		tunnels = append(tunnels, kube.Tunnel{Host: name, Dial: e.DialContext})
	}
	conf, err := os.ReadFile(env.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	k, err := kube.New(kube.Options{Kubeconfig: conf, Tunnels: tunnels, DialTimeout: 5 * time.Second}) // as berth dials
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || k.Via() != rider {
		t.Fatalf("first call through %s: via %s, %v", rider, k.Via(), err)
	}
	if err := env.lab.StopHost(ctx, rider); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.lab.StartHost(ctx, rider); err != nil {
			t.Fatal(err)
		}
		waitWhole(t, env, rider)
	}()
	start := time.Now()
	nodes, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("the call after %s stopped failed: %v", rider, err)
	}
	if k.Via() == rider || len(nodes.Items) != 5 {
		t.Fatalf("after %s stopped: via %s, %d nodes", rider, k.Via(), len(nodes.Items))
	}
	figure(t, "API client failover: %s stopped, the next call answered through %s in %s", rider, k.Via(), time.Since(start).Round(10*time.Millisecond))
}

// figure logs a measured figure and, when BERTH_BENCH_OUT names a file, appends it there too, so that `make test`
// can print the figures of a run without -v.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("BERTH_BENCH_OUT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("figures file: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", t.Name(), line)
}
