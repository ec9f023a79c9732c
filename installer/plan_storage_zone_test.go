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
// and the install plans nothing of a node on the other two hosts. They are connected and read (connect, facts), never
// prepared, joined or given DNS; the registry host is staged the registry engine and runs the registry. Every node gets the kubelet's resolv.conf of the inventory's search domains.
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
	if got := perHost["st1"]; len(got) > 0 {
		t.Errorf("the install plans changes on st1, which is no Kubernetes node: %v", got)
	}
	// The registry host is staged the registry engine alone and runs the registry; nothing of a node.
	if got := perHost["reg1"]; len(got) != 2 || got["stage"] != 1 || got["registries"] == 0 {
		t.Errorf("the install plans on reg1 %v; want the stage of the registry engine and the registry, nothing else", got)
	}
	if len(inv.Nodes()) != 4 {
		t.Fatalf("nodes %d", len(inv.Nodes()))
	}
}
