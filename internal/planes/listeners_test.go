package planes

import (
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

func testHost() *inventory.Host {
	h := &inventory.Host{Name: "cp1"}
	h.NICs.Set(inventory.Management, &inventory.NIC{Interface: "eth0", Address: "10.0.1.11"})
	h.NICs.Set(inventory.Control, &inventory.NIC{Interface: "eth1", Address: "10.0.2.11"})
	h.NICs.Set(inventory.StorageNet, &inventory.NIC{Interface: "eth2", Address: "10.0.3.11"})
	return h
}

// What ss prints on a control plane: each listener gets the plane of its address, the VIP its plane, wildcards
// and loopback their own names, and berth's programs are told from others.
func TestParse(t *testing.T) {
	out := `udp UNCONN 0      0        127.0.0.11:32921 0.0.0.0:*
udp UNCONN 0      0         10.0.2.11:53     0.0.0.0:* users:(("dnsmasq",pid=812,fd=6))
tcp LISTEN 0      128       10.0.1.11:22     0.0.0.0:* users:(("sshd",pid=99,fd=3))
tcp LISTEN 0      4096      10.0.2.11:2379   0.0.0.0:* users:(("etcd",pid=1201,fd=8))
tcp LISTEN 0      4096      127.0.0.1:2379   0.0.0.0:* users:(("etcd",pid=1201,fd=7))
tcp LISTEN 0      4096     10.0.2.100:6443   0.0.0.0:* users:(("haproxy",pid=700,fd=5))
tcp LISTEN 0      4096              *:10250        *:* users:(("kubelet",pid=900,fd=20))
tcp LISTEN 0      4096           [::]:10256     [::]:* users:(("kube-proxy",pid=950,fd=9))
tcp LISTEN 0      4096 [::ffff:10.0.3.11]:5000  [::]:* users:(("berth-registry",pid=1000,fd=3),("berth-registry",pid=1000,fd=4))
tcp LISTEN 0      4096  127.0.0.53%lo:53     0.0.0.0:* users:(("systemd-resolve",pid=50,fd=13))
tcp LISTEN 0      4096      10.244.0.1:8080  0.0.0.0:* users:(("app",pid=2000,fd=3))
`
	ls, err := Parse(out, testHost(), map[string]inventory.PlaneName{"10.0.2.100": inventory.Control})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		s := l.String()
		if l.Berth {
			s += " berth"
		}
		got = append(got, s)
	}
	want := []string{
		"tcp 10.0.1.11:22 (management) sshd",
		"tcp 127.0.0.53:53 (loopback) systemd-resolve",
		"tcp 10.0.2.11:2379 (control) etcd berth",
		"tcp 127.0.0.1:2379 (loopback) etcd berth",
		"tcp 10.0.3.11:5000 (storage) berth-registry berth",
		"tcp 10.0.2.100:6443 (control) haproxy berth",
		"tcp 10.244.0.1:8080 (other) app",
		"tcp 0.0.0.0:10250 (every) kubelet berth",
		"tcp [::]:10256 (every) kube-proxy berth",
		"udp 10.0.2.11:53 (control) dnsmasq berth",
		"udp 127.0.0.11:32921 (loopback) ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("listeners:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var wild []string
	for _, l := range ls {
		if l.Wildcard() && l.Berth {
			wild = append(wild, l.Process)
		}
	}
	if strings.Join(wild, ",") != "kubelet,kube-proxy" {
		t.Errorf("berth's wildcard listeners: %v", wild)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		"tcp LISTEN 0 4096 10.0.2.11 0.0.0.0:*",       // no port
		"tcp LISTEN 0 4096 10.0.2.11:http 0.0.0.0:*",  // a service name: not numeric output
		"tcp LISTEN 0 4096 10.0.2.11:70000 0.0.0.0:*", // no such port
		"sctp LISTEN 0 4096 10.0.2.11:22 0.0.0.0:*",   // not asked for
		"tcp LISTEN 0 4096 host.example:22 0.0.0.0:*", // a name
		"State Recv-Q Send-Q Local Address:Port Peer", // a header
	} {
		if _, err := Parse(bad, testHost(), nil); err == nil || !strings.Contains(err.Error(), "cp1: ") {
			t.Errorf("%q: %v, want an error naming the host", bad, err)
		}
	}
	if _, err := Parse(strings.Repeat("tcp LISTEN 0 1 10.0.1.11:22 0.0.0.0:*\n", MaxLines+1), testHost(), nil); err == nil {
		t.Error("more than MaxLines sockets read")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("tcp LISTEN 0 4096 10.0.2.11:6443 0.0.0.0:* users:((\"kube-apiserver\",pid=1,fd=3))\n")
	f.Add("udp UNCONN 0 0 [fe80::1%eth0]:123 [::]:*\n")
	f.Add("tcp LISTEN 0 4096 *:10250 *:*\n")
	f.Fuzz(func(t *testing.T, out string) {
		ls, err := Parse(out, testHost(), nil)
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Port < 0 || l.Port > 65535 || (l.Proto != "tcp" && l.Proto != "udp") || l.Plane == "" {
				t.Fatalf("read %+v from %q", l, out)
			}
		}
	})
}

func TestCounters(t *testing.T) {
	h := testHost()
	cmd, err := CountersCommand(h)
	if err != nil || !strings.Contains(cmd, "/sys/class/net/eth2/statistics/tx_bytes") || strings.Contains(cmd, "business") {
		t.Fatalf("command %q, %v", cmd, err)
	}
	ts, err := ParseCounters("storage eth2 300 30\nmanagement eth0 100 10\ncontrol eth1 200 20\n", h)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Plane != inventory.Management || ts[2].RxBytes != 300 || ts[2].TxBytes != 30 || ts[1].Interface != "eth1" {
		t.Errorf("counters %+v", ts)
	}
	for _, bad := range []string{
		"management eth0 100 10\ncontrol eth1 200 20\n",                       // storage missing
		"management eth0 100 10\ncontrol eth1 200 20\nstorage eth2 x 30\n",    // not a number
		"management eth0 100 10\ncontrol eth1 200 20\nstorage eth2 300\n",     // an interface gone: cat failed
		"management eth0 100 10\ncontrol eth1 200 20\nbusiness eth3 300 30\n", // a NIC the host has not
		"management eth9 100 10\ncontrol eth1 200 20\nstorage eth2 300 30\n",  // another interface
		"management eth0 -1 10\ncontrol eth1 200 20\nstorage eth2 300 30\n",   // negative
		strings.Repeat("management eth0 100 10\n", 9),                         // too many lines
	} {
		if _, err := ParseCounters(bad, h); err == nil || !strings.Contains(err.Error(), "cp1") {
			t.Errorf("%q: %v, want an error naming the host", bad, err)
		}
	}
	h.NICs.Set(inventory.Business, &inventory.NIC{Interface: "eth3; rm -rf /", Address: "10.0.4.11"})
	if _, err := CountersCommand(h); err == nil {
		t.Error("an interface name that is a command went into the command")
	}
}

func FuzzParseCounters(f *testing.F) {
	f.Add("management eth0 100 10\ncontrol eth1 200 20\nstorage eth2 300 30\n")
	f.Fuzz(func(t *testing.T, out string) {
		ts, err := ParseCounters(out, testHost())
		if err == nil && len(ts) != 3 {
			t.Fatalf("read %d planes from %q", len(ts), out)
		}
	})
}
