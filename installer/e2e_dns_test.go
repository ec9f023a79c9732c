package installer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthsh/berth/internal/dnsprobe"
	"github.com/berthsh/berth/inventory"
)

// The stand-in for the bank's DNS: a real dnsmasq on a lab host that knows one zone the cluster does not.
const (
	upstreamPort   = 5300 // not 53: the cluster's dnsmasq may hold 53 on the same host
	upstreamZone   = "bank.example"
	upstreamName   = "www.bank.example"
	upstreamAnswer = "10.99.0.7"
	upstreamPID    = "/run/berth-e2e-upstream.pid"
)

// testDNS proves cluster DNS on an installed lab, in both variants (installed one after the other, so the second
// is a change of variant on a running cluster): every host and a pod on every node resolve
// kubernetes.default.svc.<domain> and a name only the upstream resolver knows; reverse lookups of service
// addresses work; `berth status` reports every DNS host; with one DNS host stopped, resolution keeps working from
// every other node (the time the dead endpoint takes to drop out is measured and logged); and a second install
// changes nothing. It ends in the management variant with every host running.
func testDNS(t *testing.T, env *e2eEnv) {
	env.loadNetcheck(t)
	upstream := startUpstream(t, env)
	for _, variant := range []string{inventory.DNSUser, inventory.DNSManagement} {
		path := ""
		if !t.Run(variant, func(t *testing.T) {
			path = env.dnsInventory(t, variant, upstream)
			if code, out, errOut := env.run(t, 20*time.Minute, env.dnsInstallArgs(path)...); code != 0 {
				t.Fatalf("berth install (%s variant) exited %d\n%s\n%s", variant, code, out, errOut)
			}
			env.checkHostDnsmasq(t, variant)
			env.checkResolution(t, env.inv.Nodes())
			env.checkReverse(t)
			env.checkDNSStatus(t, path, "")
		}) {
			return
		}
		t.Run(variant+"/failover", func(t *testing.T) { env.dnsFailover(t, variant, path) })
	}
	t.Run("second-install-changes-nothing", func(t *testing.T) {
		path := env.dnsInventory(t, inventory.DNSManagement, upstream)
		code, out, errOut := env.run(t, 20*time.Minute, env.dnsInstallArgs(path, "--restart")...)
		if code != 0 || !strings.Contains(out+errOut, "(0 changes)") {
			t.Fatalf("second install: exit %d, expected 0 changes\n%s\n%s", code, out, errOut)
		}
	})
}

// dnsInstallArgs are the flags of an install with another inventory file.
func (env *e2eEnv) dnsInstallArgs(inventoryPath string, extra ...string) []string {
	return append([]string{"install", "-i", inventoryPath, "-b", env.bundle, "--key", env.key, "--state-dir", env.stateDir, "--yes"}, extra...)
}

// dnsInventory writes the lab's inventory with a DNS variant and the upstream resolver, next to the original
// (its paths are relative to its directory), and returns its path.
func (env *e2eEnv) dnsInventory(t *testing.T, variant, upstream string) string {
	t.Helper()
	path, inv := env.editedInventory(t, "dns-"+variant, func(inv *inventory.Inventory) {
		inv.DNS.Variant = variant
		inv.DNS.Upstreams = []string{upstream}
		// The stand-in for the bank's DNS runs on a host behind berth's firewall: open its port there, the way a
		// bank opens its own agents' ports (a real resolver sits outside the cluster's hosts).
		if inv.Firewall != nil && inv.Firewall.Enabled {
			for _, proto := range []string{"udp", "tcp"} {
				inv.Firewall.Allow = append(inv.Firewall.Allow, inventory.FirewallRule{Plane: inventory.Management, Proto: proto,
					Ports: strconv.Itoa(upstreamPort), Hosts: []string{env.upstreamHost().Name}, Description: "the stand-in for the bank's DNS"})
			}
		}
	})
	env.inv = inv
	return path
}

// editedInventory writes a copy of the lab's inventory, changed by edit, next to the original (its paths are
// relative to its directory) as inventory-<name>.yaml, and returns its path and content.
func (env *e2eEnv) editedInventory(t testing.TB, name string, edit func(*inventory.Inventory)) (string, *inventory.Inventory) {
	t.Helper()
	inv, err := inventory.Load(env.invPath)
	if err != nil {
		t.Fatal(err)
	}
	edit(inv)
	data, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(env.invPath), "inventory-"+name+".yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, inv
}

// upstreamHost is where the stand-in for the bank's DNS runs: the last worker (never a DNS host, never stopped).
func (env *e2eEnv) upstreamHost() *inventory.Host {
	if w := env.inv.Workers(); len(w) > 0 {
		return w[len(w)-1]
	}
	nodes := env.inv.Nodes()
	return nodes[len(nodes)-1]
}

// startUpstream starts the stand-in for the bank's DNS (the dnsmasq the bundle installed on every node, run by hand
// with its own flags) and returns its address for dns.upstreams.
func startUpstream(t *testing.T, env *e2eEnv) string {
	t.Helper()
	h := env.upstreamHost()
	cmd := fmt.Sprintf(`if [ -f %[1]s ]; then kill $(cat %[1]s) 2>/dev/null; sleep 1; fi
dnsmasq --port=%[2]d --listen-address=%[3]s --bind-interfaces --no-resolv --no-hosts --address=/%[4]s/%[5]s --pid-file=%[1]s`,
		upstreamPID, upstreamPort, h.Address, upstreamZone, upstreamAnswer)
	if out, err := env.exec(t, h.Name, cmd); err != nil {
		t.Fatalf("start the upstream resolver on %s: %v\n%s", h.Name, err, out)
	}
	t.Cleanup(func() { env.exec(t, h.Name, fmt.Sprintf("kill $(cat %[1]s) 2>/dev/null; rm -f %[1]s", upstreamPID)) })
	return fmt.Sprintf("%s#%d", h.Address, upstreamPort)
}

func (env *e2eEnv) isDNSHost(name string) bool {
	return slices.ContainsFunc(env.inv.DNSHosts(), func(h *inventory.Host) bool { return h.Name == name })
}

// checkHostDnsmasq checks the hosts' own dnsmasq service: running on the DNS hosts of the user variant only.
func (env *e2eEnv) checkHostDnsmasq(t *testing.T, variant string) {
	t.Helper()
	for _, h := range env.inv.Nodes() {
		out, _ := env.exec(t, h.Name, "systemctl is-enabled dnsmasq; systemctl is-active dnsmasq")
		want := "disabled inactive"
		if variant == inventory.DNSUser && env.isDNSHost(h.Name) {
			want = "enabled active"
		}
		if got := strings.Join(strings.Fields(out), " "); got != want {
			t.Errorf("%s (%s variant): dnsmasq.service is %q, want %q", h.Name, variant, got, want)
		}
	}
}

// dnsNames are the names every node must resolve, with the address each must give.
func (env *e2eEnv) dnsNames() map[string]string {
	return map[string]string{
		"kubernetes.default.svc." + env.inv.Kubernetes.ClusterDomain: nthServiceAddr(env.inv, 1),
		upstreamName: upstreamAnswer,
	}
}

func nthServiceAddr(inv *inventory.Inventory, n int) string {
	p := netip.MustParsePrefix(inv.Kubernetes.ServiceCIDR).Masked()
	a := p.Addr()
	for range n {
		a = a.Next()
	}
	return a.String()
}

// checkResolution resolves every name on every given host (through the kube-dns Service's address, as the
// host has no resolver of its own) and in a pod on each of them (through the pod's resolv.conf).
func (env *e2eEnv) checkResolution(t *testing.T, hosts []*inventory.Host) {
	t.Helper()
	svc := nthServiceAddr(env.inv, 10)
	for _, h := range hosts {
		for name, want := range env.dnsNames() {
			out, err := env.exec(t, h.Name, fmt.Sprintf("berth-netcheck resolve %s %s", name, svc))
			if err != nil || !slices.Contains(lines(out), want) {
				t.Errorf("host %s: resolve %s through %s = %q, %v; want %s", h.Name, name, svc, out, err, want)
			}
		}
	}
	env.resolveInPods(t, hosts)
}

// resolveInPods runs a netcheck pod per host and name and checks what each resolved.
func (env *e2eEnv) resolveInPods(t *testing.T, hosts []*inventory.Host) {
	t.Helper()
	cs := env.kube(t)
	ctx := context.Background()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	type check struct{ pod, host, name, want string }
	create := func(h, name string) string {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "dnscheck-" + h + "-", Namespace: "default",
				Labels: map[string]string{"berth.test/dns-run": run}},
			Spec: corev1.PodSpec{NodeName: h, RestartPolicy: corev1.RestartPolicyNever,
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "netcheck", Image: NetcheckImage, ImagePullPolicy: corev1.PullNever,
					Args: []string{"resolve", name}}}},
		}
		created, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create a DNS check pod on %s: %v", h, err)
		}
		return created.Name
	}
	var checks []check
	for _, h := range hosts {
		for name, want := range env.dnsNames() {
			checks = append(checks, check{create(h.Name, name), h.Name, name, want})
		}
	}
	defer cs.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "berth.test/dns-run=" + run})
	wait := func(name string) (*corev1.Pod, error) {
		var pod *corev1.Pod
		err := waitUntil(3*time.Minute, time.Second, func() error {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod = p
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return fmt.Errorf("pod %s is %s", name, p.Status.Phase)
			}
			return nil
		})
		return pod, err
	}
	for _, c := range checks {
		pod, err := wait(c.pod)
		// A container the runtime could not start never asked DNS anything (seen once on this machine's cgroup v1
		// hierarchy: runc found the pod's fresh net_cls cgroup gone); such a pod is replaced, at most twice, and
		// the replacement decides. A container that ran and resolved wrongly is never retried.
		for retry := 0; retry < 2 && err == nil && neverStarted(pod); retry++ {
			t.Logf("pod on %s never started, replacing it: %s", c.host, podStatus(pod))
			c.pod = create(c.host, c.name)
			pod, err = wait(c.pod)
		}
		logs, logErr := cs.CoreV1().Pods("default").GetLogs(c.pod, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || pod.Status.Phase != corev1.PodSucceeded || !slices.Contains(lines(string(logs)), c.want) {
			t.Errorf("pod on %s: resolve %s = %q (wait: %v, logs: %v); want %s\npod status: %s",
				c.host, c.name, logs, err, logErr, c.want, podStatus(pod))
		}
	}
}

// neverStarted tells a pod whose container the runtime failed to start (StartError) from one whose container ran.
func neverStarted(p *corev1.Pod) bool {
	if p == nil || p.Status.Phase != corev1.PodFailed {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if st := c.State.Terminated; st != nil && st.Reason == "StartError" {
			return true
		}
	}
	return false
}

// podStatus sums up why a pod ended as it did: phase, reason, message and each container's last state.
func podStatus(p *corev1.Pod) string {
	if p == nil {
		return "never read"
	}
	out := fmt.Sprintf("%s %s %q", p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, c := range p.Status.ContainerStatuses {
		switch st := c.State; {
		case st.Terminated != nil:
			out += fmt.Sprintf("; %s terminated %s exit %d %q", c.Name, st.Terminated.Reason, st.Terminated.ExitCode, st.Terminated.Message)
		case st.Waiting != nil:
			out += fmt.Sprintf("; %s waiting %s %q", c.Name, st.Waiting.Reason, st.Waiting.Message)
		case st.Running != nil:
			out += fmt.Sprintf("; %s running", c.Name)
		}
	}
	return out
}

// checkReverse asks every DNS host's dnsmasq for the name of the kubernetes Service's address (a reverse zone
// the backend serves), through an SSH tunnel from the host.
func (env *e2eEnv) checkReverse(t *testing.T) {
	t.Helper()
	want := "kubernetes.default.svc." + env.inv.Kubernetes.ClusterDomain + "."
	name := dnsprobe.ReverseName(netip.MustParseAddr(nthServiceAddr(env.inv, 1)))
	for _, h := range env.inv.DNSHosts() {
		e, err := env.pool.Get(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a, err := dnsprobe.Ask(ctx, e.DialContext, "tcp", net.JoinHostPort(env.inv.NodeIP(h), "53"), name, dnsmessage.TypePTR)
		cancel()
		if err != nil || !slices.Contains(a.Names, want) {
			t.Errorf("%s: PTR %s = %v, %v; want %s", h.Name, name, a, err, want)
		}
	}
}

// dnsFailover watches cluster DNS from a pod on a worker, as workloads use it: a query to the kube-dns Service ten
// times a second, each from a new socket with a one-second timeout. One DNS host stops 10 s in and starts again
// 60 s in. No query may fail, before, while the host is down, or after it is back; the longest answer is reported.
// Then every remaining host and a pod on every remaining node resolve, and status reports the host as it is.
func (env *e2eEnv) dnsFailover(t *testing.T, variant, inventoryPath string) {
	dnsHosts := env.inv.DNSHosts()
	if len(dnsHosts) < 2 {
		t.Skipf("failover needs at least 2 DNS hosts, the lab has %d", len(dnsHosts))
	}
	victim := dnsHosts[len(dnsHosts)-1].Name
	watcher := env.inv.Workers()[0].Name
	env.loadNetcheck(t)
	cs := env.kube(t)
	ctx := context.Background()
	const ns, pod = "berth-dns-watch", "dns-watch"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	cs.CoreV1().Pods(ns).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	waitUntil(time.Minute, time.Second, func() error {
		if _, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{}); err == nil {
			return fmt.Errorf("the earlier watcher is still there")
		}
		return nil
	})
	const watchFor = 150 * time.Second
	w := netcheckPod(pod, watcher)
	w.Spec.RestartPolicy = corev1.RestartPolicyNever
	w.Spec.Containers[0].Command = []string{"/dnsload", "watch", nthServiceAddr(env.inv, 10), "kubernetes.default.svc." + env.inv.Kubernetes.ClusterDomain,
		"-duration", watchFor.String(), "-interval", "100ms", "-timeout", "1s"}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(2*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("watcher not running: %v %v", err, podStatus(p))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // a baseline with every DNS host up
	stopped := time.Now()
	if err := env.lab.StopHost(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped %s (took %s)", victim, time.Since(stopped).Round(100*time.Millisecond))
	time.Sleep(time.Until(stopped.Add(50 * time.Second)))
	started := time.Now()
	env.restartDNSHost(t, victim)
	t.Logf("%s back as a ready kube-dns endpoint %s after its start", victim, time.Since(started).Round(time.Second))
	var logs string
	if err := waitUntil(watchFor+time.Minute, 2*time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("watcher %s", p.Status.Phase)
		}
		logs = podLogs(cs, ns, pod)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := parseWatch(logs, stopped, started)
	figure(t, "DNS failover (%s variant) from a pod on %s: %s stopped 10s in and started 60s in; failed queries %d of %d before the stop, %d of %d while down, %d of %d after the start; %s (goal 0 failed, <= 2s)",
		variant, watcher, victim, r.failedBefore, r.before, r.failedDown, r.down, r.failedAfter, r.after, r)
	if r.failedBefore+r.failedDown+r.failedAfter > 0 {
		t.Errorf("%d queries failed (first: %s)", r.failedBefore+r.failedDown+r.failedAfter, r.firstFailure)
	}
	if r.before == 0 || r.down < 300 || r.after == 0 {
		t.Errorf("the watch did not cover the window: %d queries before, %d while down, %d after", r.before, r.down, r.after)
	}
	var rest []*inventory.Host
	for _, h := range env.inv.Nodes() {
		if h.Name != victim {
			rest = append(rest, h)
		}
	}
	env.checkResolution(t, rest)
	env.checkDNSStatus(t, inventoryPath, "")
}

// checkDNSStatus reads `berth status -o json` and checks its DNS rows: dnsmasq and the backend of every DNS host
// healthy, except both rows of down (a stopped host), and the kube-dns Service answering.
func (env *e2eEnv) checkDNSStatus(t *testing.T, inventoryPath, down string) {
	t.Helper()
	_, out, errOut := env.run(t, 3*time.Minute, "status", "-i", inventoryPath, "-o", "json")
	var st struct {
		DNS []struct {
			Host    string `json:"host"`
			Address string `json:"address"`
			Healthy bool   `json:"healthy"`
			Detail  string `json:"detail"`
		} `json:"dns"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("berth status -o json: %v\n%s\n%s", err, out, errOut)
	}
	rows := map[string]int{}
	for _, d := range st.DNS {
		rows[d.Host]++
		want := d.Host != down
		if d.Healthy != want {
			t.Errorf("status: DNS %s %s healthy=%v, want %v (%s)", d.Host, d.Address, d.Healthy, want, d.Detail)
		}
	}
	for _, h := range env.inv.DNSHosts() {
		if rows[h.Name] != 2 {
			t.Errorf("status: %d DNS rows for %s, want 2 (dnsmasq and backend): %+v", rows[h.Name], h.Name, st.DNS)
		}
	}
	if rows["kube-dns Service"] != 1 {
		t.Errorf("status: no row for the kube-dns Service: %+v", st.DNS)
	}
}

// watchResult summarises dnsload watch output around the moments a host was stopped and started.
type watchResult struct {
	before, failedBefore, down, failedDown, after, failedAfter int
	longest                                                    time.Duration // the slowest answer
	longestAt                                                  string        // when it was asked: before, down or after
	p99                                                        time.Duration // of all answers
	pause                                                      time.Duration // the longest time between two queries sent
	firstFailure                                               string
}

// String says where the time went: an answer slower than the watcher's timeout can only come from the watcher
// itself not running (the answer arrived in time, the process saw it late), which the longest pause between two
// queries, sent every 100 ms, shows.
func (r watchResult) String() string {
	return fmt.Sprintf("longest answer %s (%s), p99 %s; the watcher's longest pause between queries %s",
		r.longest.Round(time.Millisecond), r.longestAt, r.p99.Round(time.Millisecond), r.pause.Round(time.Millisecond))
}

func parseWatch(out string, stopped, started time.Time) watchResult {
	var r watchResult
	var sent []time.Time
	var rtts []time.Duration
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		ms, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		at := time.UnixMilli(ms)
		failed := f[1] == "fail"
		if failed && r.firstFailure == "" {
			r.firstFailure = sc.Text()
		}
		n, fails, window := &r.after, &r.failedAfter, "after the start"
		switch {
		case at.Before(stopped):
			n, fails, window = &r.before, &r.failedBefore, "before the stop"
		case at.Before(started):
			n, fails, window = &r.down, &r.failedDown, "while down"
		}
		*n++
		if failed {
			*fails++
		}
		sent = append(sent, at)
		if !failed && len(f) > 2 {
			if d, err := time.ParseDuration(f[2]); err == nil {
				rtts = append(rtts, d)
				if d > r.longest {
					r.longest, r.longestAt = d, window
				}
			}
		}
	}
	slices.SortFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(sent); i++ {
		r.pause = max(r.pause, sent[i].Sub(sent[i-1]))
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		r.p99 = rtts[len(rtts)*99/100]
	}
	return r
}

// dnsEndpointGone is nil once the kube-dns Service no longer counts host as a ready endpoint.
func dnsEndpointGone(ctx context.Context, cs kubernetes.Interface, host string) error {
	list, err := cs.DiscoveryV1().EndpointSlices("kube-system").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kube-dns"})
	if err != nil {
		return err
	}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.NodeName != nil && *ep.NodeName == host && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				return fmt.Errorf("%s is still a ready endpoint", host)
			}
		}
	}
	return nil
}

// restartDNSHost starts a stopped host again and waits until it is a ready kube-dns endpoint, so the tests that
// follow find a whole cluster.
func (env *e2eEnv) restartDNSHost(t *testing.T, host string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := env.lab.StartHost(ctx, host); err != nil {
		t.Errorf("restart %s: %v", host, err)
		return
	}
	cs := env.kube(t)
	err := waitUntil(8*time.Minute, 2*time.Second, func() error {
		if dnsEndpointGone(ctx, cs, host) == nil {
			return fmt.Errorf("%s is not a ready kube-dns endpoint yet", host)
		}
		return nil
	})
	if err != nil {
		t.Errorf("after the restart: %v", err)
	}
}

var dnsLoadOnce struct {
	sync.Once
	path string
	err  error
}

// buildDNSLoad builds the DNS load generator (linux/amd64, static) once per test binary.
func buildDNSLoad(t testing.TB) string {
	t.Helper()
	dnsLoadOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-dnsload-")
		if err != nil {
			dnsLoadOnce.err = err
			return
		}
		dnsLoadOnce.path = filepath.Join(dir, "dnsload")
		dnsLoadOnce.err = goBuild(dnsLoadOnce.path, "./testdata/dnsload")
	})
	if dnsLoadOnce.err != nil {
		t.Fatal(dnsLoadOnce.err)
	}
	return dnsLoadOnce.path
}

// goBuild builds a static linux/amd64 command for the lab hosts.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}
