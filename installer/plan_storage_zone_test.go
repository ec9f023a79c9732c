package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// TestPlanInstallLeavesHostsThatAreNoNodes plans a fresh install (in-memory hosts) of an inventory whose registry
// and storage hosts sit in the storage zone with only management and storage NICs: every node gets its full plan,
// and the install plans nothing at all on the other two hosts. They are connected and read (connect, facts), never
// staged, prepared, joined or given DNS. Every node gets the kubelet's resolv.conf of the inventory's search domains.
func TestPlanInstallLeavesHostsThatAreNoNodes(t *testing.T) {
	src, err := os.ReadFile("../inventory/testdata/valid/storage-zone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(p, src, 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	inv.SSH.Bastion = nil // the plan dials nothing, but keeps the targets simple
	for i := range inv.Hosts {
		inv.Hosts[i].SSH = nil
		for j, plane := range inventory.AllPlanes { // the interface names of the facts freshHosts answers with
			if nic := inv.Hosts[i].NICs.Get(plane); nic != nil {
				nic.Interface = fmt.Sprintf("eth%d", j)
			}
		}
	}
	rep, _ := planInstall(t, inv, freshHosts(t, inv), newBundleFixture(t))
	perHost := map[string]map[string]int{}
	resolv := map[string]bool{}
	for _, it := range rep.Plan.Items {
		if it.Phase == "os" && strings.Contains(it.Action, manifests.KubeletResolvConfPath) {
			resolv[it.Host] = true // the inventory has search domains: the kubelet's resolv.conf comes before the kubelet
		}
		if perHost[it.Host] == nil {
			perHost[it.Host] = map[string]int{}
		}
		perHost[it.Host][it.Phase]++
	}
	for _, h := range inv.Nodes() {
		for _, ph := range []string{"stage", "os", "runtime", "images", "dns-cache"} {
			if perHost[h.Name][ph] == 0 {
				t.Errorf("%s: nothing planned in phase %s (plan: %v)", h.Name, ph, perHost[h.Name])
			}
		}
		if !resolv[h.Name] {
			t.Errorf("%s: the os phase does not write %s", h.Name, manifests.KubeletResolvConfPath)
		}
	}
	for _, name := range []string{"reg1", "st1"} {
		if got := perHost[name]; len(got) > 0 {
			t.Errorf("the install plans changes on %s, which is no Kubernetes node: %v", name, got)
		}
	}
	if len(inv.Nodes()) != 4 {
		t.Fatalf("nodes %d", len(inv.Nodes()))
	}
}
