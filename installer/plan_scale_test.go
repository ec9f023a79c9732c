package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/internal/remote/remotetest"
	"github.com/berthsh/berth/inventory"
)

// scaleInventory writes an inventory of n hosts (three control planes, the rest workers) on /16 planes and loads it.
func scaleInventory(t testing.TB, n int) *inventory.Inventory {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: scale, environment: perf}
ssh: {user: root, identityFiles: [id_ed25519], knownHosts: known_hosts}
networkPlanes:
  management: {cidr: 10.10.0.0/16}
  control: {cidr: 10.20.0.0/16}
  storage: {cidr: 10.30.0.0/16}
  business: {cidr: 10.40.0.0/16}
hosts:
`)
	for i := range n {
		name, roles := fmt.Sprintf("w%d", i), "[worker]"
		if i < 3 {
			name, roles = fmt.Sprintf("cp%d", i+1), "[control-plane, etcd]"
		}
		hi, lo := 1+i/250, 1+i%250
		fmt.Fprintf(&b, "  - name: %s\n    address: 10.10.%d.%d\n    roles: %s\n    nics:\n", name, hi, lo, roles)
		for j, plane := range []string{"management", "control", "storage", "business"} {
			fmt.Fprintf(&b, "      %s: {interface: eth%d, address: 10.%d0.%d.%d}\n", plane, j, j+1, hi, lo)
		}
	}
	b.WriteString(`controlPlane: {vip: 10.20.0.100, vipPlane: control}
kubernetes: {podCIDR: 10.244.0.0/14, serviceCIDR: 10.96.0.0/16, podPlane: business}
dns: {variant: management, hosts: [cp1, cp2, cp3]}
`)
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// freshHosts answers berth's reads the way new, empty Debian 12 hosts would: nothing of berth's there, every NIC
// where the inventory says, resources above the minimums. It is the in-memory executor of the scale tests.
func freshHosts(t testing.TB, inv *inventory.Inventory) remotetest.Respond {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "internal", "preflight", "testdata", "facts-lab-cp1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	template := strings.ReplaceAll(strings.ReplaceAll(string(raw), "/24 brd", "/16 brd"), "### hostname\ncp1\n", "### hostname\n@HOST@\n")
	facts := map[string]string{}
	for _, h := range inv.Hosts {
		f := template
		for j, plane := range inventory.AllPlanes {
			f = strings.ReplaceAll(f, fmt.Sprintf("172.30.%d1.11", j+1), h.AddressOn(plane))
		}
		facts[h.Name] = strings.Replace(f, "@HOST@", h.Name, 1)
	}
	return func(host string, c remote.Cmd) (string, error) {
		switch {
		case strings.Contains(c.Command, "s os; cat /etc/os-release"):
			return facts[host], nil
		case c.Command == "date +%s%N":
			return strconv.FormatInt(time.Now().UnixNano(), 10), nil
		case strings.Contains(c.Command, "f admin /etc/kubernetes/admin.conf"):
			return "kubelet inactive\ncapbnd 000001ffffffffff\nhostname " + host + "\n", nil
		case strings.Contains(c.Command, "enabled=$("): // the dnsmasq service, before the os phase installs it
			return "enabled=not-found\nactive=inactive\n", nil
		case c.Command == "cat -- /etc/hosts":
			return "127.0.0.1\tlocalhost\n", nil
		}
		return "", nil // no file, no image, no service: a fresh host
	}
}

// planInstall runs a dry-run install of the inventory over in-memory hosts and returns its report and the number
// of events the runner emitted.
func planInstall(t testing.TB, inv *inventory.Inventory, respond remotetest.Respond, b bundleFixture) (*phase.Report, int64) {
	t.Helper()
	pool := remote.NewPool(action.Lookup(inv), remote.PoolOptions{Open: remotetest.Open(respond)})
	defer pool.Close()
	var events atomic.Int64
	res, err := Install(context.Background(), Options{Inventory: inv, InventoryBytes: []byte("scale"), Bundle: b.bundle,
		StateDir: b.state, CacheDir: b.cache, DryRun: true, Pool: pool, Concurrency: 50,
		Observers: []phase.Observer{phase.ObserverFunc(func(phase.Event) { events.Add(1) })}})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return res.Report, events.Load()
}

// bundleFixture is a small real bundle and the directories a plan uses.
type bundleFixture struct {
	bundle       *bundles.Bundle
	state, cache string
}

func newBundleFixture(t testing.TB) bundleFixture {
	t.Helper()
	dir := t.TempDir()
	return bundleFixture{bundle: bundletest.Open(t, dir, bundletest.Spec{}, bundletest.NewKey(t)),
		state: filepath.Join(dir, "state"), cache: filepath.Join(dir, "cache")}
}

// TestPlanInstallOnManyHosts plans a fresh install on 60 in-memory hosts and checks the plan is the install's:
// every node staged, prepared and joined exactly once, the waits listed with their timeouts, nothing changed.
func TestPlanInstallOnManyHosts(t *testing.T) {
	inv := scaleInventory(t, 60)
	rep, events := planInstall(t, inv, freshHosts(t, inv), newBundleFixture(t))
	perHost := map[string]map[string]int{}
	for _, it := range rep.Plan.Items {
		if perHost[it.Host] == nil {
			perHost[it.Host] = map[string]int{}
		}
		perHost[it.Host][it.Phase]++
	}
	for _, h := range inv.Nodes() {
		got := perHost[h.Name]
		for _, ph := range []string{"stage", "os", "runtime", "images", "dns-cache"} {
			if got[ph] == 0 {
				t.Errorf("%s: nothing planned in phase %s (plan: %v)", h.Name, ph, got)
			}
		}
		switch {
		case h.Name == "cp1":
			if got["init"] == 0 {
				t.Errorf("cp1 is not initialised in the plan")
			}
		case h.Has(inventory.RoleControlPlane):
			if got["join-control-planes"] != 6 { // a patch per static pod, join, wait for its etcd member
				t.Errorf("%s: %d join-control-planes items, want 6", h.Name, got["join-control-planes"])
			}
		default:
			if got["join-workers"] != 1 {
				t.Errorf("%s: %d join-workers items, want 1", h.Name, got["join-workers"])
			}
		}
	}
	var waits []string
	caches := 0
	for _, it := range rep.Plan.Items {
		switch {
		case it.Kind != phase.KindWait:
		case it.Phase == "dns-cache":
			caches++ // one per node, checked below
		default:
			waits = append(waits, it.Phase+": "+it.Action)
		}
	}
	if caches != len(inv.Nodes()) {
		t.Errorf("%d waits for a node's DNS cache, want one per node (%d)", caches, len(inv.Nodes()))
	}
	want := []string{"join-control-planes: wait up to 3m0s for the etcd member on cp2 healthy",
		"join-control-planes: wait up to 3m0s for the etcd member on cp3 healthy",
		"dns: wait up to 5m0s for cluster DNS to answer on cp1, cp2, cp3 and through the kube-dns Service",
		"nodes: wait up to 10m0s for every node Ready and every system pod running"}
	if strings.Join(waits, "\n") != strings.Join(want, "\n") {
		t.Errorf("planned waits:\n%s\nwant:\n%s", strings.Join(waits, "\n"), strings.Join(want, "\n"))
	}
	if rep.Made != 0 || events == 0 {
		t.Errorf("a dry run made %d changes and emitted %d events", rep.Made, events)
	}
}

// BenchmarkPlanInstall1000 plans an install (dry run, journal read, every event observed) over 1,000 in-memory
// hosts and reports the time per plan and the peak heap. Goal: under 2 s and 200 MB.
func BenchmarkPlanInstall1000(b *testing.B) {
	inv := scaleInventory(b, 1000)
	respond := freshHosts(b, inv)
	fx := newBundleFixture(b)
	planInstall(b, inv, respond, fx) // the bundle's local cache is extracted once, as on a real machine
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	runtime.GC()
	b.ResetTimer()
	var items int
	for range b.N {
		rep, _ := planInstall(b, inv, respond, fx)
		items = len(rep.Plan.Items)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(items), "plan-items")
}
