package preflight

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/inventory"
)

// labFacts parses the facts a real lab host printed (testdata/facts-lab-cp1.txt).
func labFacts(t *testing.T, host string) *Facts {
	t.Helper()
	raw, err := os.ReadFile("testdata/facts-lab-cp1.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := &Facts{Host: host}
	if err := parseFacts(f, string(raw)); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseLabFacts(t *testing.T) {
	f := labFacts(t, "cp1")
	checks := []struct {
		name string
		ok   bool
	}{
		{"os", f.OSID == "debian" && f.OSVersion == "12"},
		{"hostname", f.Hostname == "cp1"},
		{"arch", f.Arch == "amd64"},
		{"cpus", f.CPUs >= 1},
		{"memory", f.MemoryBytes > 1<<30},
		{"disk", f.DiskFreeBytes > 0},
		{"links", len(f.Links) == 5 && f.Links["eth2"].Up && f.Links["eth2"].Carrier},
		{"addrs", len(f.Addrs) == 5 && f.Addrs[3] == Addr{Interface: "eth2", CIDR: "172.30.31.11/24"}},
		{"listeners", len(f.Listeners) == 3 && f.Listeners[2] == Listener{Proto: "tcp", Address: "172.30.11.11", Port: 22, Process: "sshd"}},
		{"cgroup", f.CgroupFS == "tmpfs" && f.CgroupHybrid && f.Controllers["memory"] && f.CgroupDriver() == "cgroupfs"},
		{"init", f.Init == "systemd"},
		{"vxlan", f.Modules["vxlan"] == "present"},
		{"overlay", contains(f.Filesystems, "overlay")},
		{"sysctl", f.Sysctls["net.ipv4.ip_forward"] == "1" && f.Sysctls["net.bridge.bridge-nf-call-iptables"] != "missing"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s parsed wrong: %+v", c.name, f)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// labInventory is a small inventory matching the lab facts: cp1 and worker1 on four planes.
func labInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	src := `apiVersion: berth.sh/v1alpha1
kind: Inventory
metadata: {name: t, environment: dev}
ssh: {user: berth, identityFiles: [k], knownHosts: kh}
networkPlanes:
  management: {cidr: 172.30.11.0/24}
  control: {cidr: 172.30.21.0/24}
  storage: {cidr: 172.30.31.0/24}
  business: {cidr: 172.30.41.0/24}
hosts:
  - name: cp1
    address: 172.30.11.11
    roles: [control-plane]
    nics:
      management: {interface: eth0, address: 172.30.11.11}
      control: {interface: eth1, address: 172.30.21.11}
      storage: {interface: eth2, address: 172.30.31.11}
      business: {interface: eth3, address: 172.30.41.11}
  - name: worker1
    address: 172.30.11.21
    roles: [worker]
    nics:
      management: {interface: eth0, address: 172.30.11.21}
      control: {interface: eth1, address: 172.30.21.21}
      storage: {interface: eth2, address: 172.30.31.21}
      business: {interface: eth3, address: 172.30.41.21}
controlPlane: {vip: 172.30.21.100}
`
	inv, problems := inventory.Parse("inv.yaml", []byte(src))
	if problems.Errors() != nil {
		t.Fatalf("inventory: %v", problems)
	}
	inv.Default()
	return inv
}

func findResult(rs []Result, check string) *Result {
	for i := range rs {
		if rs[i].Check == check {
			return &rs[i]
		}
	}
	return nil
}

func TestChecksOnLabFacts(t *testing.T) {
	inv := labInventory(t)
	in := &input{inv: inv, limits: Limits{}.withDefaults()}
	h := inv.Host("cp1")
	f := labFacts(t, "cp1")
	var all []Result
	for _, chk := range hostChecks() {
		all = append(all, chk(in, h, f)...)
	}
	for _, r := range all {
		if r.Status != OK {
			t.Errorf("healthy lab host: %s %s: %s", r.Check, r.Status, r.Detail)
		}
	}
	if len(all) < 15 {
		t.Fatalf("only %d results", len(all))
	}
}

func TestNICChecks(t *testing.T) {
	inv := labInventory(t)
	in := &input{inv: inv, limits: Limits{}.withDefaults()}
	h := inv.Host("cp1")
	tests := []struct {
		name   string
		change func(f *Facts)
		check  string
		detail string
		fix    string
	}{
		{name: "disconnected NIC", check: "nic/storage",
			change: func(f *Facts) { delete(f.Links, "eth2"); f.Addrs = dropAddr(f.Addrs, "eth2") },
			detail: "storage plane: interface eth2 (172.30.31.11) is missing; the host has eth0, eth1, eth3",
			fix:    "connect the host's storage-plane NIC as eth2 with 172.30.31.11, or correct hosts[cp1].nics.storage"},
		{name: "renamed NIC", check: "nic/control",
			change: func(f *Facts) {
				delete(f.Links, "eth1")
				f.Links["ens4"] = Link{Name: "ens4", Up: true}
				for i := range f.Addrs {
					if f.Addrs[i].Interface == "eth1" {
						f.Addrs[i].Interface = "ens4"
					}
				}
			},
			detail: "control plane: no interface eth1; 172.30.21.11 is on ens4",
			fix:    "set hosts[cp1].nics.control.interface to ens4"},
		{name: "wrong address", check: "nic/business",
			change: func(f *Facts) {
				for i := range f.Addrs {
					if f.Addrs[i].Interface == "eth3" {
						f.Addrs[i].CIDR = "172.30.41.99/24"
					}
				}
			},
			detail: "business plane: eth3 has 172.30.41.99/24, not 172.30.41.11"},
		{name: "down", check: "nic/storage",
			change: func(f *Facts) { f.Links["eth2"] = Link{Name: "eth2"} },
			detail: "storage plane: eth2 (172.30.31.11/24) is down"},
		{name: "cable pulled", check: "nic/storage",
			change: func(f *Facts) { f.Links["eth2"] = Link{Name: "eth2", Up: true} },
			detail: "storage plane: eth2 (172.30.31.11/24) has no carrier: the cable is out or the switch port is down",
			fix:    "plug in eth2's cable, or have the network team enable the switch port of the storage plane"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := labFacts(t, "cp1")
			tc.change(f)
			r := findResult(checkNICs(in, h, f), tc.check)
			if r == nil || r.Status != Fail {
				t.Fatalf("result = %+v, want failure", r)
			}
			if r.Detail != tc.detail {
				t.Errorf("detail:\n got %s\nwant %s", r.Detail, tc.detail)
			}
			if tc.fix != "" && r.Fix != tc.fix {
				t.Errorf("fix:\n got %s\nwant %s", r.Fix, tc.fix)
			}
			for _, other := range checkNICs(in, h, f) {
				if other.Check != tc.check && other.Status != OK {
					t.Errorf("unrelated plane failed: %+v", other)
				}
			}
		})
	}
}

func dropAddr(as []Addr, iface string) []Addr {
	var out []Addr
	for _, a := range as {
		if a.Interface != iface {
			out = append(out, a)
		}
	}
	return out
}

func TestPortChecks(t *testing.T) {
	inv := labInventory(t)
	f := labFacts(t, "cp1")
	f.Listeners = append(f.Listeners,
		Listener{Proto: "tcp", Address: "0.0.0.0", Port: 6443, Process: "nginx"},
		Listener{Proto: "udp", Address: "127.0.0.53", Port: 53, Process: "systemd-resolve"},
		Listener{Proto: "tcp", Address: "172.30.21.11", Port: 2379, Process: "etcd"})
	rs := checkPorts(&input{inv: inv}, inv.Host("cp1"), f)
	want := map[string]string{
		"ports/6443": "6443/tcp, needed by API endpoint (haproxy), is in use by nginx on 0.0.0.0",
		"ports/53":   "53/udp, needed by cluster DNS (dnsmasq), is in use by systemd-resolve on 127.0.0.53",
		"ports/2379": "2379/tcp, needed by etcd clients, is in use by etcd on 172.30.21.11",
	}
	for check, detail := range want {
		r := findResult(rs, check)
		if r == nil || r.Status != Fail || r.Detail != detail {
			t.Errorf("%s: got %+v, want %q", check, r, detail)
		}
	}
	// On an installed cluster, etcd on 2379 is berth's own; nginx on 6443 still is not.
	rs = checkPorts(&input{inv: inv, installed: true}, inv.Host("cp1"), f)
	if findResult(rs, "ports/2379") != nil {
		t.Error("installed etcd reported as a conflict")
	}
	if r := findResult(rs, "ports/6443"); r == nil || r.Status != Fail {
		t.Error("foreign process on 6443 accepted as installed")
	}
	// A registry's port held by berth's registry engine (its process name is berth-registry) is berth's own too.
	inv.Registries = append(inv.Registries, inventory.Registry{Name: "system", Role: inventory.RegistrySystem, Hosts: []string{"cp1"}, Plane: inventory.StorageNet, Port: 5000})
	f.Listeners = append(f.Listeners, Listener{Proto: "tcp", Address: "172.30.31.11", Port: 5000, Process: "berth-registry"})
	if r := findResult(checkPorts(&input{inv: inv, installed: true}, inv.Host("cp1"), f), "ports/5000"); r != nil {
		t.Errorf("the installed registry reported as a conflict: %+v", r)
	}
	if r := findResult(checkPorts(&input{inv: inv}, inv.Host("cp1"), f), "ports/5000"); r == nil || r.Status != Fail {
		t.Errorf("a registry port in use before install accepted: %+v", r)
	}
	inv.Registries = inv.Registries[:len(inv.Registries)-1]
	// On an installed cluster, berth's programs on every address are named; others' are not berth's to name.
	if r := findResult(checkListeners(&input{inv: inv, installed: true}, inv.Host("cp1"), f), "listeners"); r == nil || r.Status != OK {
		t.Errorf("listeners with nginx alone on every address: %+v", r)
	}
	f.Listeners = append(f.Listeners, Listener{Proto: "tcp", Address: "::", Port: 10250, Process: "kubelet"})
	if r := findResult(checkListeners(&input{inv: inv, installed: true}, inv.Host("cp1"), f), "listeners"); r == nil || r.Status != Warn ||
		r.Detail != "berth's programs listening on every address, so on every network plane: kubelet on tcp/10250" {
		t.Errorf("kubelet on every address: %+v", r)
	}
	if rs := checkListeners(&input{inv: inv}, inv.Host("cp1"), f); len(rs) != 0 {
		t.Errorf("before an install, listeners checked: %+v", rs)
	}
	f.Listeners = f.Listeners[:len(f.Listeners)-1]
	// Workers need only the kubelet port.
	w := checkPorts(&input{inv: inv}, inv.Host("worker1"), f)
	if len(w) != 1 || w[0].Detail != "free: 10250/tcp" {
		t.Errorf("worker ports = %+v", w)
	}
}

func TestKernelFeatureChecks(t *testing.T) {
	inv := labInventory(t)
	h := inv.Host("cp1")
	tests := []struct {
		name   string
		change func(*Facts)
		check  string
		status Status
		detail string
	}{
		{"built-in bridge netfilter without modules", func(f *Facts) { f.Modules = map[string]string{"vxlan": "present"} },
			"kernel/br_netfilter", OK, "active (/proc/sys/net/bridge exists)"},
		{"br_netfilter loadable", func(f *Facts) {
			delete(f.Sysctls, "net.bridge.bridge-nf-call-iptables")
			f.Modules["br_netfilter"] = "loadable"
		}, "kernel/br_netfilter", OK, "module available; the install loads it (modprobe br_netfilter)"},
		{"br_netfilter built in per modules.builtin", func(f *Facts) {
			f.Sysctls["net.bridge.bridge-nf-call-iptables"] = "missing"
			f.Modules["br_netfilter"] = "built-in"
		}, "kernel/br_netfilter", OK, "built into the kernel"},
		{"br_netfilter absent", func(f *Facts) {
			f.Sysctls["net.bridge.bridge-nf-call-iptables"] = "missing"
		}, "kernel/br_netfilter", Fail, "neither active, built in nor available as a module"},
		{"overlay absent", func(f *Facts) { f.Filesystems = []string{"ext4"}; delete(f.Modules, "overlay") }, "kernel/overlay", Fail,
			"neither active, built in nor available as a module"},
		{"vxlan absent", func(f *Facts) { delete(f.Modules, "vxlan") }, "kernel/vxlan", Fail,
			"neither active, built in nor available as a module"},
		{"forwarding off", func(f *Facts) { f.Sysctls["net.ipv4.ip_forward"] = "0" }, "kernel/ip_forward", Warn,
			"net.ipv4.ip_forward = 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := labFacts(t, "cp1")
			tc.change(f)
			r := findResult(checkKernelFeatures(nil, h, f), tc.check)
			if r == nil || r.Status != tc.status || r.Detail != tc.detail {
				t.Fatalf("got %+v, want %s %q", r, tc.status, tc.detail)
			}
			if r.Status != OK && r.Fix == "" {
				t.Fatal("no fix given")
			}
		})
	}
}

func TestClusterChecks(t *testing.T) {
	inv := labInventory(t)
	a, b := labFacts(t, "cp1"), labFacts(t, "worker1")
	c := labFacts(t, "extra")
	b.Hostname = "cp1" // a cloned VM that kept its name
	c.Hostname = "extra"
	a.ClockOffset, b.ClockOffset, c.ClockOffset = 10*time.Millisecond, 12*time.Millisecond, 5*time.Second
	in := &input{inv: inv, limits: Limits{}.withDefaults(), facts: map[string]*Facts{"cp1": a, "worker1": b, "extra": c}}
	rs := checkHostnames(in)
	byHost := map[string]Result{}
	for _, r := range rs {
		byHost[r.Host] = r
	}
	if r := byHost["cp1"]; r.Status != Fail || !strings.Contains(r.Detail, `"cp1" is also used by worker1`) {
		t.Errorf("cp1 hostname: %+v", r)
	}
	if r := byHost["worker1"]; r.Status != Warn || !strings.Contains(r.Fix, `renames the host to "worker1"`) {
		t.Errorf("worker1 hostname: %+v", r)
	}
	if r := byHost["extra"]; r.Status != OK {
		t.Errorf("extra hostname: %+v", r)
	}
	clock := map[string]Result{}
	for _, r := range checkClock(in) {
		clock[r.Host] = r
	}
	if clock["extra"].Status != Fail || !strings.HasPrefix(clock["extra"].Detail, "4.988s from the other hosts") {
		t.Errorf("clock of the wrong host: %+v", clock["extra"])
	}
	if clock["cp1"].Status != OK || clock["worker1"].Status != OK {
		t.Errorf("good clocks judged bad: %+v", clock)
	}
}

func TestResourceAndSudoChecks(t *testing.T) {
	inv := labInventory(t)
	in := &input{inv: inv, limits: Limits{}.withDefaults()}
	f := labFacts(t, "cp1")
	f.CPUs, f.MemoryBytes, f.DiskFreeBytes = 1, 1<<30, 2<<30
	rs := checkResources(in, inv.Host("cp1"), f)
	for _, want := range []string{"1 CPUs, a control plane needs at least 2", "1.0 GiB, a control plane needs at least 1.7 GiB",
		"2.0 GiB free under /var/lib, need 10.0 GiB"} {
		found := false
		for _, r := range rs {
			found = found || (r.Status == Fail && strings.HasPrefix(r.Detail, want))
		}
		if !found {
			t.Errorf("no failure %q in %+v", want, rs)
		}
	}
	// The same machine is big enough for a worker's CPU and memory.
	for _, r := range checkResources(in, inv.Host("worker1"), f) {
		if r.Check != "disk" && r.Status != OK {
			t.Errorf("worker: %+v", r)
		}
	}
	f.Init = "sh"
	if r := findResult(checkOS(in, inv.Host("cp1"), f), "init"); r == nil || r.Status != Fail || !strings.Contains(r.Detail, `"sh", not systemd`) {
		t.Errorf("init: %+v", r)
	}
	f.Sudo = &SudoFact{Err: "sudo asks for a password"}
	r := checkSudo(in, inv.Host("cp1"), f)[0]
	if r.Status != Fail || !strings.Contains(r.Fix, "berth ALL=(ALL) NOPASSWD: ALL") {
		t.Errorf("sudo: %+v", r)
	}
}

func TestReportTable(t *testing.T) {
	rep := &Report{Hosts: []string{"cp1", "w1"}, order: map[string]int{"": -1, "cp1": 0, "w1": 1}}
	rep.add(
		Result{Host: "w1", Check: "swap", Status: Warn, Detail: "swap is on", Fix: "swapoff -a"},
		Result{Host: "cp1", Check: "os", Status: OK, Detail: "Debian"},
		Result{Host: "cp1", Check: "nic/storage", Status: Fail, Detail: "eth2 missing", Fix: "connect it"},
	)
	rep.finish()
	var b strings.Builder
	rep.WriteTable(&b, false)
	want := `HOST  CHECK        STATUS  DETAIL        FIX
cp1   nic/storage  FAIL    eth2 missing  connect it
w1    swap         WARN    swap is on    swapoff -a

preflight FAILED on 2 hosts: 1 failed, 1 warnings, 1 passed
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"6.1.0-18-amd64", "4.19", true}, {"4.19.0", "4.19", true}, {"4.18.0-553.el8", "4.19", false},
		{"5.4", "4.19", true}, {"3.10.0", "4.19", false}, {"", "4.19", false},
	} {
		if got := versionAtLeast(tc.have, tc.want); got != tc.ok {
			t.Errorf("versionAtLeast(%q, %q) = %v", tc.have, tc.want, got)
		}
	}
}

// A registry host in the storage zone (management and storage NICs only) is checked for what berth needs of it:
// sudo, those two NICs and its registry's port; none of the Kubernetes checks apply to it.
func TestChecksOfAHostThatIsNoNode(t *testing.T) {
	inv := labInventory(t)
	inv.Hosts = append(inv.Hosts, inventory.Host{Name: "registry1", Address: "172.30.11.11", Roles: []inventory.Role{inventory.RoleRegistry},
		NICs: inventory.NICs{Management: &inventory.NIC{Interface: "eth0", Address: "172.30.11.11"},
			Storage: &inventory.NIC{Interface: "eth2", Address: "172.30.31.11"}}})
	inv.Registries = []inventory.Registry{{Name: "system", Role: inventory.RegistrySystem, Hosts: []string{"registry1"}}}
	inv.Default()
	in := &input{inv: inv, limits: Limits{}.withDefaults()}
	f := labFacts(t, "registry1") // the lab facts: eth0-eth3, sshd on 22
	f.CPUs, f.MemoryBytes, f.Swaps, f.Init = 1, 256<<20, []string{"/swapfile"}, "sh"
	var got []string
	for _, chk := range hostChecksFor(inv.Host("registry1")) {
		for _, r := range chk(in, inv.Host("registry1"), f) {
			got = append(got, r.Check)
			if r.Status != OK {
				t.Errorf("%s %s: %s", r.Check, r.Status, r.Detail)
			}
		}
	}
	if strings.Join(got, " ") != "sudo nic/management nic/storage ports" {
		t.Errorf("checks %v, want sudo, the two NICs and the ports", got)
	}
	if rs := hostChecksFor(inv.Host("cp1")); len(rs) != len(hostChecks()) {
		t.Errorf("a control plane gets %d checks, want all %d", len(rs), len(hostChecks()))
	}
}
