package installer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVIPHandOver runs node remove's VIP hand-over shell in a network namespace of its own: a host holding the VIP
// keeps it on its loopback, stops answering ARP for it there, and keeps doing so after keepalived took it off its NIC;
// run twice it changes nothing more; once its haproxy stopped, the VIP leaves the loopback and the ARP settings are as
// they were. A host that does not hold the VIP is left as it is.
func TestVIPHandOver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ip and sysctl in a network namespace")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for a network namespace")
		}
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("berth-vip-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh := func(script string) string {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-ec", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, script, out)
		}
		return string(out)
	}
	const vip = "10.20.0.100"
	file := filepath.Join(t.TempDir(), "handover")
	state := func() string {
		return sh("ip -o -4 addr show | awk '{print $2, $4}' | sort | tr '\\n' ' '; " +
			"echo arp $(sysctl -n net.ipv4.conf.all.arp_ignore) $(sysctl -n net.ipv4.conf.all.arp_announce)")
	}
	sh("ip link set lo up; ip link add eth1 type bridge; ip link set eth1 up; ip addr add 10.20.0.11/24 dev eth1")

	// Not the holder: nothing changes.
	before := state()
	sh(vipHandOver(vip, file))
	if got := state(); got != before {
		t.Errorf("a host without the VIP changed:\nbefore %s\nafter  %s", before, got)
	}

	sh("ip addr add " + vip + "/24 dev eth1")
	holding := state()
	sh(vipHandOver(vip, file))
	sh(vipHandOver(vip, file)) // a resumed run
	got := state()
	if !strings.Contains(got, "lo "+vip+"/32") || !strings.Contains(got, "arp 1 2") {
		t.Errorf("the holder after the hand-over: %s (want the VIP on lo and arp_ignore 1, arp_announce 2)", got)
	}
	sh("ip addr del " + vip + "/24 dev eth1") // keepalived stops
	if got := state(); !strings.Contains(got, "lo "+vip+"/32") {
		t.Errorf("the VIP left the loopback with keepalived: %s", got)
	}
	sh(vipHandedOver(vip, file))
	sh(vipHandedOver(vip, file)) // a resumed run
	got = state()
	if strings.Contains(got, vip) || !strings.Contains(got, "arp 0 0") || !strings.Contains(holding, "arp 0 0") {
		t.Errorf("after the hand-over: %s (want no VIP and the ARP settings of before: %s)", got, holding)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the saved ARP settings are left behind: %v", err)
	}
}
