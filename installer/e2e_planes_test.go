package installer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
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

// testFirewall checks berth's host firewall on the shared lab (docs/planes.md). Every host holds berth's table as
// berth loaded it. A pod, and a process on a worker that sends from its business-plane address, both find a
// management address's SSH port and a control plane's etcd port timing out, while the API through its VIP and
// cluster DNS answer. With the table deleted on one control plane the same probe reaches that host's SSH and etcd
// (so the probe can tell), and `berth install phase firewall` loads it again, changing that host alone.
func testFirewall(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	cs := env.kube(t)
	env.loadNetcheck(t)
	for _, h := range env.inv.Hosts {
		out, err := env.exec(t, h.Name, "stat -c %a "+planes.FirewallPath+" && systemctl is-enabled "+planes.FirewallUnit+
			" && nft list table "+planes.FirewallTable+" | grep -c 'counter packets .* drop'")
		if lines := strings.Fields(out); err != nil || len(lines) != 3 || lines[0] != "600" || lines[1] != "enabled" || lines[2] == "0" {
			t.Errorf("%s: berth's firewall is not in place (mode, unit, drop rules): %v\n%s", h.Name, err, out)
		}
	}
	cp1, workers := env.inv.ControlPlanes()[0], env.inv.Workers()
	w1, w2 := workers[0], workers[1]
	dnsService, err := manifests.NthAddress(env.inv.Kubernetes.ServiceCIDR, 10)
	if err != nil {
		t.Fatal(err)
	}
	vip := net.JoinHostPort(env.inv.ControlPlane.VIP, strconv.Itoa(env.inv.ControlPlane.Port))
	name := "kubernetes.default.svc." + env.inv.Kubernetes.ClusterDomain
	ssh := func(h *inventory.Host) string {
		return "tcp:" + net.JoinHostPort(h.AddressOn(inventory.Management), "22")
	}
	etcd := "tcp:" + net.JoinHostPort(cp1.AddressOn(inventory.Control), "2379")

	// probe runs netcheck's probe and returns what each target did.
	parse := func(out string) map[string]string {
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if target, result, ok := strings.Cut(line, " "); ok {
				got[target], _, _ = strings.Cut(result, " ")
			}
		}
		return got
	}
	expect := func(who string, got map[string]string, want map[string]string) {
		t.Helper()
		for target, w := range want {
			if got[target] != w {
				t.Errorf("from %s, %s: %q, want %q (all: %v)", who, target, got[target], w, got)
			}
		}
	}

	ns := "berth-e2e-firewall"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	podTargets := []string{ssh(cp1), ssh(w1), ssh(w2), etcd, "tcp:" + vip, "dns:" + net.JoinHostPort(dnsService, "53")}
	pod := netcheckPod("probe", w1.Name, append([]string{"probe", "-", name}, podTargets...)...)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitPod(cs, ns, "probe", corev1.PodSucceeded, 3*time.Minute); err != nil {
		t.Fatalf("probe pod: %v\n%s", err, podLogs(cs, ns, "probe"))
	}
	expect("a pod on "+w1.Name, parse(podLogs(cs, ns, "probe")), map[string]string{
		ssh(cp1): "timeout", ssh(w1): "timeout", ssh(w2): "timeout", etcd: "timeout",
		"tcp:" + vip: "open", "dns:" + net.JoinHostPort(dnsService, "53"): "answered"})

	// From the business plane: this machine, sending from its own address on the lab's business network (the
	// lab's planes are separate networks with no router between them: a lab host cannot send from its business
	// address to another plane, Docker drops that, but this machine routes to every plane).
	business := localAddressIn(t, env.inv, inventory.Business)
	dnsHost := "dns:" + net.JoinHostPort(cp1.AddressOn(inventory.Control), "53")
	fromBusiness := func() map[string]string {
		out, err := exec.Command(env.netcheck, append([]string{"probe", business, name}, ssh(cp1), etcd, "tcp:"+vip, dnsHost)...).CombinedOutput()
		if err != nil {
			t.Fatalf("probe from the business address %s: %v\n%s", business, err, out)
		}
		return parse(string(out))
	}
	expect("the business address "+business, fromBusiness(), map[string]string{
		ssh(cp1): "timeout", etcd: "timeout", "tcp:" + vip: "open", dnsHost: "answered"})

	// Flushed: the probe reaches what the table kept it from, and the install puts the table back.
	if out, err := env.exec(t, cp1.Name, "nft delete table "+planes.FirewallTable); err != nil {
		t.Fatalf("delete the table on %s: %v\n%s", cp1.Name, err, out)
	}
	expect("the business address with "+cp1.Name+"'s firewall deleted", fromBusiness(), map[string]string{
		ssh(cp1): "open", etcd: "open"})
	if got := firewallStates(t, env); got[cp1.Name] != installer.FirewallAbsent || got[w1.Name] != installer.FirewallLoaded {
		t.Errorf("berth status with %s's table deleted: %v, want it absent there and loaded elsewhere", cp1.Name, got)
	}
	var res struct {
		ChangesMade int `json:"changesMade"`
	}
	// The firewall phase runs on every install, journal or not: the one phase is enough.
	args := []string{"install", "phase", "firewall", "-i", env.invPath, "-b", env.bundle, "--key", env.key, "--state-dir", env.stateDir, "--yes", "-o", "json"}
	if code, out := env.runJSON(t, 5*time.Minute, &res, args...); code != 0 || res.ChangesMade != 1 {
		t.Errorf("berth install phase firewall after the table was deleted on %s: exit %d, %d changes, want 1\n%s", cp1.Name, code, res.ChangesMade, out)
	}
	expect("the business address after the install", fromBusiness(), map[string]string{ssh(cp1): "timeout", etcd: "timeout"})
	for host, state := range firewallStates(t, env) {
		if state != installer.FirewallLoaded {
			t.Errorf("berth status after the install: the firewall of %s is %s, want loaded", host, state)
		}
	}

	// A load that would shut berth out is undone. A table of the test's own on cp2 lets one new SSH connection in
	// (berth's, at the start of its run) and drops every later one, as a rule set that forgot the operator's
	// subnet would while berth's open connection stays; berth's table is deleted so that the install loads it.
	// The load cannot prove a new login, so berth takes its table away again and says how to fix it.
	cp2 := env.inv.ControlPlanes()[1]
	block := "nft add table inet berthtest && nft add chain inet berthtest in '{ type filter hook input priority -10; policy accept; }' && " +
		"nft add rule inet berthtest in tcp dport 22 ct state new limit rate over 1/hour burst 1 packets drop && systemd-run --quiet --on-active=300 /usr/sbin/nft delete table inet berthtest && " +
		"nft delete table " + planes.FirewallTable
	if out, err := env.exec(t, cp2.Name, block); err != nil {
		t.Fatalf("block new SSH logins on %s: %v\n%s", cp2.Name, err, out)
	}
	code, stdout, stderr := env.run(t, 5*time.Minute, args...)
	if code == 0 || !strings.Contains(stderr, "could not log in again") || !strings.Contains(stderr, "firewall.sshFrom") {
		t.Errorf("the firewall load on %s, with new logins blocked: exit %d, want a failure that names the fix\n%s\n%s", cp2.Name, code, stdout, stderr)
	}
	if out, err := env.exec(t, cp2.Name, "nft list tables; systemctl list-timers --all --no-legend | grep -c berth-firewall-rollback; nft delete table inet berthtest"); err != nil ||
		strings.Contains(out, "table inet berth\n") || !strings.Contains(out, "\n0") {
		t.Errorf("after the refused load, %s holds berth's table or its rollback timer: %v\n%s", cp2.Name, err, out)
	}
	// The refused load took the rules and the boot unit away with the table: all three come back.
	if code, out := env.runJSON(t, 5*time.Minute, &res, args...); code != 0 || res.ChangesMade != 3 {
		t.Errorf("berth install phase firewall with logins allowed again on %s: exit %d, %d changes, want 3 (rules, unit, load)\n%s", cp2.Name, code, res.ChangesMade, out)
	}
}

// firewallStates reads, with berth status, the state of berth's firewall on every host.
func firewallStates(t *testing.T, env *e2eEnv) map[string]installer.FirewallState {
	t.Helper()
	_, stdout, stderr := env.run(t, 2*time.Minute, "status", "-i", env.invPath, "--state-dir", env.stateDir, "-o", "json")
	var st struct{ Listeners []installer.HostListeners }
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s\n%s", err, stdout, stderr)
	}
	out := map[string]installer.FirewallState{}
	for _, h := range st.Listeners {
		out[h.Host] = h.Firewall
	}
	if len(out) != len(env.inv.Hosts) {
		t.Fatalf("status read the firewall of %d hosts, want %d: %v", len(out), len(env.inv.Hosts), out)
	}
	return out
}

// localAddressIn returns this machine's address on one of the inventory's planes (the lab's bridge there).
func localAddressIn(t *testing.T, inv *inventory.Inventory, plane inventory.PlaneName) string {
	t.Helper()
	pfx, ok := inv.NetworkPlanes.Prefix(plane)
	if !ok {
		t.Fatalf("the inventory has no %s plane", plane)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && pfx.Contains(ip.Unmap()) {
				return ip.Unmap().String()
			}
		}
	}
	t.Fatalf("this machine has no address on the %s plane %s", plane, pfx)
	return ""
}
