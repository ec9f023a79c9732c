package installer_test

import (
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// multiHopLab is the lab of TestE2EMultiHop: the install's shape, under its own name.
var multiHopLab = lab.Options{Name: "t-multihop", ControlPlanes: 3, Workers: 2}

// TestE2EMultiHop installs the 1.31 lab bundle and upgrades it to 1.33 in one apply with the 1.32 and 1.33 bundles,
// while the probe counts failed requests. The control planes step through 1.32; each worker is drained and
// upgraded once, straight from 1.31 to 1.33. A watcher on the API records every kubelet version each node reports
// and every cordon, so the test sees what happened rather than what berth says. It runs only when asked for by
// name: make e2e-multihop (it takes about half an hour and builds the 1.33 bundle first).
func TestE2EMultiHop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs Docker, the lab and three lab bundles")
	}
	if run := flag.Lookup("test.run"); run == nil || !strings.Contains(run.Value.String(), "TestE2EMultiHop") {
		t.Skip("runs only when asked for by name: make e2e-multihop")
	}
	mid := labtest.RequireUpgradeBundle(t)
	last := labtest.RequireHopBundle(t)
	env := freshLab(t, multiHopLab)
	if code, stdout, stderr := env.run(t, 40*time.Minute, env.installArgs()...); code != 0 {
		t.Fatalf("install 1.31: exit %d\n%s\n%s", code, stdout, stderr)
	}
	bundleArgs := func(bs ...string) []string {
		var out []string
		for _, b := range bs {
			out = append(out, "-b", b)
		}
		return out
	}

	// The plan without the 1.32 bundle names the missing hop and changes nothing.
	code, stdout, stderr := env.run(t, 5*time.Minute, append(append([]string{"upgrade", "plan", "-i", env.invPath, "--key", env.key, "--state-dir", env.stateDir},
		bundleArgs(last)...), "-o", "json")...)
	if code == 0 || !strings.Contains(stdout+stderr, "1.32") {
		t.Fatalf("plan 1.31 -> 1.33 without the 1.32 bundle: exit %d, want a refusal naming the missing 1.32 hop\n%s\n%s", code, stdout, stderr)
	}

	// With both bundles: two hops for the control plane, one change of kubelet per worker.
	var plan struct {
		Hops  []struct{ From, To string }
		Hosts []struct {
			Host    string
			Roles   []string
			Changes []struct{ Component, From, To string }
		}
		Problems []struct{ Detail string }
	}
	code, out := env.runJSON(t, 5*time.Minute, &plan, append(append([]string{"upgrade", "plan", "-i", env.invPath, "--key", env.key, "--state-dir", env.stateDir},
		bundleArgs(mid, last)...), "-o", "json")...)
	if code != 0 {
		t.Fatalf("plan 1.31 -> 1.33: exit %d\n%s", code, out)
	}
	var hops []string
	for _, h := range plan.Hops {
		hops = append(hops, h.From+" -> "+h.To)
	}
	if want := []string{"v1.31.4 -> v1.32.5", "v1.32.5 -> v1.33.13"}; !slices.Equal(hops, want) {
		t.Errorf("plan hops %q, want %q", hops, want)
	}
	for _, h := range plan.Hosts {
		if slices.Contains(h.Roles, "control-plane") {
			continue
		}
		var kubelet []string
		for _, c := range h.Changes {
			if c.Component == "kubelet" {
				kubelet = append(kubelet, c.From+" -> "+c.To)
			}
		}
		if !slices.Equal(kubelet, []string{"v1.31.4 -> v1.33.13"}) {
			t.Errorf("plan for worker %s: kubelet changes %q, want one, v1.31.4 -> v1.33.13", h.Host, kubelet)
		}
	}
	if t.Failed() {
		t.Fatalf("plan:\n%s", out)
	}

	cs := env.kube(t)
	env.loadNetcheck(t)
	nodePort := deployWorkload(t, cs, env.inv.Workers()[0].Name)
	probe := startProbe(t, env, nodePort)
	watch := watchNodes(cs)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	start := time.Now()
	code, stdout, stderr = env.run(t, 60*time.Minute, append(append([]string{"upgrade", "apply", "-i", env.invPath, "--key", env.key,
		"--state-dir", env.stateDir, "--yes", "--events", events}, bundleArgs(mid, last)...), "-o", "json")...)
	took := time.Since(start)
	seen := watch.stop()
	failedAPI, totalAPI, failedApp, totalApp := probe.stop()
	if code != 0 {
		t.Fatalf("upgrade 1.31 -> 1.33: exit %d\n%s\n%s", code, stdout, stderr)
	}
	figure(t, "multi-hop upgrade 1.31 -> 1.32 -> 1.33 (3 control planes + 2 workers): %s; %d of %d API requests failed, %d of %d workload requests failed",
		took.Round(time.Second), failedAPI, totalAPI, failedApp, totalApp)
	var res struct {
		Phases []struct {
			Name     string
			Duration time.Duration
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err == nil {
		var parts []string
		for _, p := range res.Phases {
			if p.Duration >= time.Second {
				parts = append(parts, p.Name+" "+p.Duration.Round(100*time.Millisecond).String())
			}
		}
		figure(t, "multi-hop upgrade phases: %s", strings.Join(parts, ", "))
	}
	if failedAPI != 0 || failedApp != 0 {
		t.Errorf("requests failed during the multi-hop upgrade: API %d of %d, workload %d of %d; first failures:\n%s\nwhat berth did, and when:\n%s",
			failedAPI, totalAPI, failedApp, totalApp, probe.firstFailures(), stepEvents(events))
	}

	for _, cp := range env.inv.ControlPlanes() {
		if got, want := seen.versions[cp.Name], []string{"v1.31.4", "v1.32.5", "v1.33.13"}; !slices.Equal(got, want) {
			t.Errorf("control plane %s reported kubelet versions %q, want %q (one hop at a time)", cp.Name, got, want)
		}
	}
	for _, w := range env.inv.Workers() {
		if got, want := seen.versions[w.Name], []string{"v1.31.4", "v1.33.13"}; !slices.Equal(got, want) {
			t.Errorf("worker %s reported kubelet versions %q, want %q (upgraded once, straight to the target)", w.Name, got, want)
		}
		if seen.cordons[w.Name] != 1 {
			t.Errorf("worker %s was cordoned %d times during the upgrade, want once", w.Name, seen.cordons[w.Name])
		}
	}
	for node, v := range kubeletVersions(t, cs) {
		if v != "v1.33.13" {
			t.Errorf("node %s runs kubelet %s after the upgrade, want v1.33.13", node, v)
		}
	}

	code, stdout, stderr = env.run(t, 20*time.Minute, append(append([]string{"upgrade", "apply", "-i", env.invPath, "--key", env.key,
		"--state-dir", env.stateDir, "--yes"}, bundleArgs(mid, last)...), "-o", "json")...)
	var again struct {
		ChangesMade int `json:"changesMade"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &again) != nil || again.ChangesMade != 0 {
		t.Errorf("second apply of the finished multi-hop upgrade: exit %d, %d changes, want 0\n%s\n%s", code, again.ChangesMade, stdout, stderr)
	}
}

// nodeWatch polls the API every second and records, per node, each kubelet version it reports (in order, without
// repeats) and how many times it became unschedulable.
type nodeWatch struct {
	stopc chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
	seen  nodesSeen
}

type nodesSeen struct {
	versions map[string][]string
	cordons  map[string]int
}

func watchNodes(cs kubernetes.Interface) *nodeWatch {
	w := &nodeWatch{stopc: make(chan struct{}), seen: nodesSeen{versions: map[string][]string{}, cordons: map[string]int{}}}
	cordoned := map[string]bool{}
	look := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return // the API through the VIP is the probe's to count; a missed look only delays the record
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, n := range nodes.Items {
			v := n.Status.NodeInfo.KubeletVersion
			if vs := w.seen.versions[n.Name]; len(vs) == 0 || vs[len(vs)-1] != v {
				w.seen.versions[n.Name] = append(vs, v)
			}
			if n.Spec.Unschedulable && !cordoned[n.Name] {
				w.seen.cordons[n.Name]++
			}
			cordoned[n.Name] = n.Spec.Unschedulable
		}
	}
	look()
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.stopc:
				look()
				return
			case <-tick.C:
				look()
			}
		}
	}()
	return w
}

func (w *nodeWatch) stop() nodesSeen {
	close(w.stopc)
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}
