package lab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

const testLab = "t-lab"

// TestLabIntegration brings up two real hosts, logs in over SSH as the sudo user with strict host-key checking,
// checks the NICs and the planes between the hosts, exercises every fault helper, and tears the lab down to zero
// leftovers.
func TestLabIntegration(t *testing.T) {
	l := labtest.Require(t, lab.Options{Name: testLab, ControlPlanes: 1, Workers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	torn := false
	t.Cleanup(func() {
		if !torn && os.Getenv(labtest.KeepEnv) != "1" {
			lab.Down(context.Background(), testLab, "")
		}
	})

	inv, err := l.Inventory()
	if err != nil {
		t.Fatalf("the lab's inventory does not load: %v", err)
	}
	if len(inv.Hosts) != 2 {
		t.Fatalf("inventory has %d hosts, want 2", len(inv.Hosts))
	}
	cp, worker := inv.Host("cp1"), inv.Host("worker1")
	if cp == nil || worker == nil {
		t.Fatalf("inventory hosts: %+v", inv.Hosts)
	}

	t.Run("ssh as the sudo user with strict host keys", func(t *testing.T) {
		for _, h := range inv.Hosts {
			c := dial(t, inv, &h)
			if got := run(t, c, "id -un"); got != lab.User {
				t.Errorf("%s: logged in as %q, want %q", h.Name, got, lab.User)
			}
			if got := run(t, c, "sudo -n id -u"); got != "0" {
				t.Errorf("%s: sudo -n id -u = %q, want 0", h.Name, got)
			}
			if got := run(t, c, "hostname"); got != h.Name {
				t.Errorf("hostname %q, want %q", got, h.Name)
			}
			if got := run(t, c, "systemctl is-system-running"); got != "running" {
				t.Errorf("%s: systemd is %q", h.Name, got)
			}
			for _, absent := range []string{"containerd", "kubelet", "kubeadm"} {
				if out, err := runErr(c, "command -v "+absent); err == nil {
					t.Errorf("%s: %s is installed (%s); it must come from the bundle", h.Name, absent, out)
				}
			}
		}
	})

	t.Run("an unknown host key is refused", func(t *testing.T) {
		// known_hosts that maps cp1's address to worker1's keys: the handshake with cp1 must fail.
		data, err := os.ReadFile(l.KnownHostsPath)
		if err != nil {
			t.Fatal(err)
		}
		var swapped []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if strings.HasPrefix(line, worker.Address+" ") {
				swapped = append(swapped, cp.Address+strings.TrimPrefix(line, worker.Address))
			}
		}
		bad := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(bad, []byte(strings.Join(swapped, "\n")+"\n"), 0o600)
		cb, err := knownhosts.New(bad)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ssh.Dial("tcp", cp.Address+":22", clientConfig(t, l.KeyPath, cb))
		if err == nil || !strings.Contains(err.Error(), "key mismatch") {
			t.Fatalf("dial with the wrong host key: %v, want a key mismatch", err)
		}
	})

	t.Run("four NICs with the inventory's addresses", func(t *testing.T) {
		for _, h := range inv.Hosts {
			got := nics(t, dial(t, inv, &h))
			if len(got) != 4 {
				t.Errorf("%s has %d NICs besides lo: %v", h.Name, len(got), got)
			}
			for _, plane := range inventory.AllPlanes {
				nic := h.NICs.Get(plane)
				if got[nic.Interface] != nic.Address {
					t.Errorf("%s %s: %s has %q, inventory says %s", h.Name, plane, nic.Interface, got[nic.Interface], nic.Address)
				}
			}
		}
	})

	t.Run("hosts reach each other on every plane", func(t *testing.T) {
		for _, pair := range [][2]*inventory.Host{{cp, worker}, {worker, cp}} {
			c := dial(t, inv, pair[0])
			for _, plane := range inventory.AllPlanes {
				nic := pair[0].NICs.Get(plane)
				to := pair[1].AddressOn(plane)
				if out, err := runErr(c, fmt.Sprintf("ping -c3 -i0.3 -W2 -I %s %s", nic.Interface, to)); err != nil {
					t.Errorf("%s cannot reach %s on the %s plane (%s): %v\n%s", pair[0].Name, pair[1].Name, plane, to, err, out)
				}
			}
		}
	})

	t.Run("nested containers run in the host's own cgroup tree", func(t *testing.T) {
		nestedContainer(t, l, "cp1")
	})

	t.Run("up again changes nothing", func(t *testing.T) {
		before := snapshot(t, l)
		l2 := labtest.Require(t, lab.Options{Name: testLab, ControlPlanes: 1, Workers: 1})
		after := snapshot(t, l2)
		if before != after {
			t.Errorf("second up changed the lab:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("unplug and plug a NIC", func(t *testing.T) {
		storage := worker.AddressOn(inventory.StorageNet)
		if err := l.DisconnectNIC(ctx, "worker1", inventory.StorageNet); err != nil {
			t.Fatal(err)
		}
		c := dial(t, inv, cp)
		if _, err := runErr(c, "ping -c3 -i0.3 -W2 "+storage); err == nil {
			t.Error("worker1 answers on the storage plane with its cable pulled")
		}
		w := dial(t, inv, worker)
		if got := run(t, w, "cat /sys/class/net/eth2/operstate"); got == "up" {
			t.Errorf("eth2 operstate %q with its cable pulled", got)
		}
		if _, err := runErr(w, "sudo -n ip link set eth2 up && ping -c3 -i0.3 -W2 -I eth2 "+cp.AddressOn(inventory.StorageNet)); err == nil {
			t.Error("root on worker1 plugged the cable back in")
		}
		if _, err := runErr(c, "ping -c3 -i0.3 -W2 "+worker.AddressOn(inventory.Control)); err != nil {
			t.Errorf("the control plane went down with the storage NIC: %v", err)
		}
		st := status(t, l, "worker1")
		if len(st.Disconnected) != 1 || st.Disconnected[0] != inventory.StorageNet {
			t.Errorf("status reports unplugged %v, want [storage]", st.Disconnected)
		}
		if err := l.ReconnectNIC(ctx, "worker1", inventory.StorageNet); err != nil {
			t.Fatal(err)
		}
		if got := nics(t, w); got["eth2"] != storage || len(got) != 4 {
			t.Errorf("after reconnect: %v, want eth2 = %s", got, storage)
		}
		if out, err := runErr(c, "ping -c3 -i0.3 -W2 "+storage); err != nil {
			t.Errorf("storage plane unreachable after reconnect: %v %s", err, out)
		}
		if st := status(t, l, "worker1"); len(st.Disconnected) != 0 {
			t.Errorf("status still reports unplugged %v", st.Disconnected)
		}
	})

	t.Run("stop and start a host", func(t *testing.T) {
		c := dial(t, inv, worker)
		run(t, c, "echo '10.99.0.1 bank-dns' | sudo -n tee -a /etc/hosts >/dev/null")
		// runc freezes a pod's cgroup while it kills the pod's processes; a host stopped at that moment keeps a frozen
		// process that cannot die, and Docker alone gives up on it. StopHost (and lab down) must stop it anyway.
		if _, err := l.Exec(ctx, "worker1", "sh", "-c", frozenProcess); err != nil {
			t.Fatalf("freeze a process on worker1: %v", err)
		}
		if err := l.StopHost(ctx, "worker1"); err != nil {
			t.Fatal(err)
		}
		if st := status(t, l, "worker1"); st.State != "exited" || st.SSH {
			t.Errorf("stopped host: state %s ssh %v", st.State, st.SSH)
		}
		if err := l.StartHost(ctx, "worker1"); err != nil {
			t.Fatal(err)
		}
		c = dial(t, inv, worker) // same host keys as before: strict checking passes
		if got := run(t, c, "grep -c bank-dns /etc/hosts"); got != "1" {
			t.Errorf("/etc/hosts lost what was written before the restart (count %s)", got)
		}
		if got := nics(t, c); len(got) != 4 || got["eth1"] != worker.AddressOn(inventory.Control) {
			t.Errorf("NICs after restart: %v", got)
		}
	})

	t.Run("block egress", func(t *testing.T) {
		outside := outsideTarget(t)
		gateway := dockerBridgeGateway(t)
		c := dial(t, inv, cp)
		reach := func(addr string) bool { _, err := runErr(c, "ping -c3 -i0.3 -W2 "+addr); return err == nil }
		if !reach(outside) || !reach(gateway) {
			t.Fatalf("before blocking, cp1 should reach %s (forwarded) and %s (this machine)", outside, gateway)
		}
		if err := l.BlockEgress(ctx, "cp1"); err != nil {
			t.Fatal(err)
		}
		if err := l.BlockEgress(ctx, "cp1"); err != nil { // idempotent
			t.Fatal(err)
		}
		c = dial(t, inv, cp) // SSH into a blocked host still works
		if reach(outside) || reach(gateway) {
			t.Errorf("blocked cp1 still reaches %s or %s", outside, gateway)
		}
		for _, plane := range inventory.AllPlanes {
			if !reach(worker.AddressOn(plane)) {
				t.Errorf("blocked cp1 cannot reach worker1 on the %s plane", plane)
			}
		}
		if !status(t, l, "cp1").EgressBlocked || status(t, l, "worker1").EgressBlocked {
			t.Error("status does not report exactly cp1 as blocked")
		}
		if !dialReach(t, inv, worker, outside) {
			t.Error("worker1 (not blocked) lost its egress")
		}
		if err := l.UnblockEgress(ctx, "cp1"); err != nil {
			t.Fatal(err)
		}
		if !reach(outside) || !reach(gateway) {
			t.Error("unblocked cp1 still cut off")
		}
		if rules := labRules(t); rules != "" {
			t.Errorf("iptables rules left after unblocking:\n%s", rules)
		}
	})

	t.Run("listed as a test lab", func(t *testing.T) {
		labs, err := lab.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range labs {
			if s.Name == testLab {
				if !s.Test || s.Hosts != 2 || s.Running != 2 || s.Dir != l.Dir {
					t.Errorf("lab list entry %+v, want a test lab with 2 running hosts in %s", s, l.Dir)
				}
				return
			}
		}
		t.Errorf("lab list %+v does not show %s", labs, testLab)
	})

	t.Run("down leaves nothing", func(t *testing.T) {
		if err := l.BlockEgress(ctx, "worker1"); err != nil { // Down must remove rules too
			t.Fatal(err)
		}
		if err := lab.Down(ctx, testLab, ""); err != nil {
			t.Fatal(err)
		}
		torn = true
		if left := leftovers(t, testLab); left != "" {
			t.Errorf("left after down: %s", left)
		}
		if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
			t.Errorf("lab directory %s still exists (%v)", l.Dir, err)
		}
		if rules := labRules(t); rules != "" {
			t.Errorf("iptables rules left after down:\n%s", rules)
		}
		if err := lab.Down(ctx, testLab, ""); err != nil {
			t.Errorf("down of a removed lab: %v", err)
		}
	})
}

// frozenProcess leaves a process in a frozen cgroup of its own, as runc does when it dies between freezing a pod's
// cgroup and thawing it (cgroup v1 freezer, or v2's cgroup.freeze).
const frozenProcess = `set -e
if [ -d /sys/fs/cgroup/freezer ]; then d=/sys/fs/cgroup/freezer/berth-test-frozen f=freezer.state v=FROZEN
else d=/sys/fs/cgroup/berth-test-frozen f=cgroup.freeze v=1; fi
mkdir -p $d
sleep 100000 </dev/null >/dev/null 2>&1 &
echo $! > $d/cgroup.procs
echo $v > $d/$f`
