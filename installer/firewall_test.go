package installer

import (
	"context"
	"strings"
	"testing"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/internal/remote/remotetest"
	"github.com/berthsh/berth/inventory"
)

// TestFirewallState reads what the firewall's state command prints into the state status shows and the phase acts
// on: a table as berth loaded it, one flushed or edited since (another digest), one gone, and the firewall off.
func TestFirewallState(t *testing.T) {
	const loaded = "live aaa\napplied aaa\nunit enabled\n"
	for _, c := range []struct {
		name, out string
		enabled   bool
		want      FirewallState
	}{
		{"as loaded", loaded, true, FirewallLoaded},
		{"flushed or edited", "live bbb\napplied aaa\nunit enabled\n", true, FirewallChanged},
		{"not loaded at boot", "live aaa\napplied aaa\nunit disabled\nnone\n", true, FirewallChanged},
		{"deleted", "live none\napplied aaa\nunit enabled\n", true, FirewallAbsent},
		{"no nft yet", "live no-nft\napplied none\nunit none\n", true, FirewallAbsent},
		{"output lost", "", true, FirewallAbsent},
		{"off and gone", "live none\napplied none\nunit none\n", false, FirewallOff},
		{"off but still there", loaded, false, FirewallLeft},
	} {
		f := parseFirewallState(c.out)
		if got := firewallStateOf(f, c.enabled); got != c.want {
			t.Errorf("%s: %s, want %s (%+v)", c.name, got, c.want, f)
		}
		if f.current() != (c.want == FirewallLoaded || c.name == "off but still there") {
			t.Errorf("%s: current() = %v", c.name, f.current())
		}
	}
}

// TestPlanFirewall plans an install with the firewall on: every host gets its rules written and loaded, and the
// plan says so. Hosts without nft, with a bundle that carries no nftables package, are refused before any change,
// naming the fix.
func TestPlanFirewall(t *testing.T) {
	inv := scaleInventory(t, 4)
	inv.Firewall = &inventory.Firewall{Enabled: true}
	rep, _ := planInstall(t, inv, freshHosts(t, inv), newBundleFixture(t))
	loads := map[string]int{}
	for _, it := range rep.Plan.Items {
		if it.Phase == "firewall" && strings.Contains(it.Action, "load table inet berth") {
			loads[it.Host]++
		}
	}
	for _, h := range inv.Hosts {
		if loads[h.Name] != 1 {
			t.Errorf("%s: %d firewall loads planned, want 1 (plan: %v)", h.Name, loads[h.Name], loads)
		}
	}

	noNft := freshHosts(t, inv)
	respond := func(host string, c remote.Cmd) (string, error) {
		if strings.Contains(c.Command, "nft list table inet berth") {
			return "live no-nft\napplied none\nunit none\n", nil
		}
		return noNft(host, c)
	}
	b := newBundleFixture(t)
	pool := remote.NewPool(action.Lookup(inv), remote.PoolOptions{Open: remotetest.Open(respond)})
	defer pool.Close()
	_, err := Install(context.Background(), Options{Inventory: inv, InventoryBytes: []byte("fw"), Bundle: b.bundle,
		StateDir: b.state, CacheDir: b.cache, DryRun: true, Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "no nft and the bundle carries no nftables package") || !strings.Contains(err.Error(), "firewall.enabled: false") {
		t.Errorf("install with no nft anywhere: %v", err)
	}
}

// TestFirewallHealth: a host whose firewall is not as berth loaded it (or is left over) makes the cluster unhealthy
// in berth status; one loaded, or off as the inventory says, does not.
func TestFirewallHealth(t *testing.T) {
	for state, healthy := range map[FirewallState]bool{FirewallLoaded: true, FirewallOff: true, FirewallChanged: false, FirewallAbsent: false, FirewallLeft: false} {
		st := &Status{VIPAnswers: true, Listeners: []HostListeners{{Host: "cp1", Firewall: FirewallLoaded}, {Host: "w1", Firewall: state}}}
		if st.Healthy() != healthy {
			t.Errorf("a host's firewall %s: healthy %v, want %v", state, st.Healthy(), healthy)
		}
	}
}
