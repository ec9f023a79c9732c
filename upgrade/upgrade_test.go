package upgrade

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/inventory"
)

func TestBatchSize(t *testing.T) {
	for _, tc := range []struct {
		flag string
		n    int
		want int
		bad  bool
	}{
		{"", 10, 1, false}, {"1", 10, 1, false}, {"3", 10, 3, false}, {"25%", 10, 2, false}, {"25%", 2, 1, false},
		{"100%", 7, 7, false}, {"0", 10, 0, true}, {"-1", 10, 0, true}, {"150%", 10, 0, true}, {"two", 10, 0, true}, {"0%", 4, 0, true},
	} {
		got, err := BatchSize(tc.flag, tc.n)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("BatchSize(%q, %d) = %d, %v", tc.flag, tc.n, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--max-unavailable") {
			t.Errorf("error %v does not name the flag", err)
		}
	}
}

// The target versions come from the bundle: Kubernetes for the binaries, image tags, Debian package versions.
func TestTargetVersions(t *testing.T) {
	m, _ := bundletest.Manifest(bundletest.Spec{KubernetesVersion: "v1.32.5", EtcdVersion: "3.5.16-0"})
	v := TargetVersions(&bundles.Bundle{Manifest: m})
	for comp, want := range map[string]string{"kubelet": "v1.32.5", "kubeadm": "v1.32.5", "kube-apiserver": "v1.32.5",
		"kube-proxy": "v1.32.5", "etcd": "3.5.16-0", "flannel": "v0.28.4", "coredns": "v1.11.3", "containerd": "1.6.20~ds1-1+deb12u1",
		"haproxy": "2.6.12-1+deb12u2", "dnsmasq": "2.90-4~deb12u1"} {
		if v[comp] != want {
			t.Errorf("%s = %q, want %q", comp, v[comp], want)
		}
	}
}

// A worker is not planned for the control plane's components, nor for DNS's unless it serves DNS.
func TestHostComponents(t *testing.T) {
	inv, err := inventory.Load("../inventory/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cp := strings.Join(hostComponents(inv, inv.Host("cp1")), ",")
	w := strings.Join(hostComponents(inv, inv.Host("worker1")), ",")
	for _, c := range []string{"kube-apiserver", "etcd", "keepalived", "haproxy", "coredns"} {
		if !strings.Contains(cp, c) {
			t.Errorf("control plane lacks %s: %s", c, cp)
		}
		if strings.Contains(w, c) {
			t.Errorf("worker has %s: %s", c, w)
		}
	}
	for _, c := range []string{"kubelet", "kubeadm", "containerd", "runc", "kube-proxy", "flannel"} {
		if !strings.Contains(w, c) {
			t.Errorf("worker lacks %s: %s", c, w)
		}
	}
}

func TestPlanText(t *testing.T) {
	p := &Plan{Cluster: "uat", From: "v1.31.4", To: "v1.32.5",
		Hops:     []HopPlan{{From: "v1.31.4", To: "v1.32.5", Bundle: "lab v1.32.5-berth.1"}},
		Hosts:    []HostPlan{{Host: "cp1", Roles: []string{"control-plane"}, Changes: []ComponentChange{{"kubelet", "v1.31.4", "v1.32.5"}, {"etcd", "3.5.15-0", "3.5.16-0"}}}, {Host: "w1", Roles: []string{"worker"}, Batch: 1}},
		Steps:    []string{"take an etcd snapshot"},
		Checks:   []Check{{Name: "nodes", OK: false, Detail: "node w1 NotReady"}},
		Problems: []Problem{{Check: "nodes", Detail: "node w1 NotReady", Fix: "bring it back"}},
		Warnings: []Problem{{Check: "disruption", Detail: "PodDisruptionBudget shop/cart allows no disruption", Fix: "relax it"}}}
	var b bytes.Buffer
	p.WriteText(&b)
	for _, want := range []string{"Kubernetes v1.31.4 -> v1.32.5", "v1.31.4 -> v1.32.5  (bundle lab v1.32.5-berth.1)", "cp1", "etcd",
		"3.5.15-0", "w1", "(nothing changes)", "1. take an etcd snapshot", "FAIL nodes: node w1 NotReady",
		"WARN disruption: PodDisruptionBudget shop/cart", "1 problems stop the upgrade before any host is touched", "(fix: bring it back)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, b.String())
		}
	}
	if p.OK() {
		t.Error("a plan with a problem is OK")
	}
}

func TestAtLeast(t *testing.T) {
	vs := map[string]string{"kubelet": "v1.32.5", "kube-apiserver": "v1.31.4"}
	if !atLeast(vs, v("v1.32.5"), "kubelet") || atLeast(vs, v("v1.32.5"), "kube-apiserver", "kubelet") || atLeast(vs, v("v1.32.5"), "kubeadm") {
		t.Error("atLeast")
	}
}

func TestLeaderLast(t *testing.T) {
	host := map[string]string{"cp1 to v1.32.5": "cp1", "cp2 to v1.32.5": "cp2", "cp3 to v1.32.5": "cp3"}
	keys := []string{"cp1 to v1.32.5", "cp2 to v1.32.5", "cp3 to v1.32.5"}
	for leader, want := range map[string]string{
		"cp1": "cp2 to v1.32.5,cp3 to v1.32.5,cp1 to v1.32.5",
		"cp3": "cp1 to v1.32.5,cp2 to v1.32.5,cp3 to v1.32.5",
		"":    "cp1 to v1.32.5,cp2 to v1.32.5,cp3 to v1.32.5", // no leader known: the order stays
		"cp9": "cp1 to v1.32.5,cp2 to v1.32.5,cp3 to v1.32.5", // a leader done with the hop already
	} {
		if got := strings.Join(leaderLast(keys, func(k string) string { return host[k] }, leader), ","); got != want {
			t.Errorf("leader %q: order %s, want %s", leader, got, want)
		}
	}
}
