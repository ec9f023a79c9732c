package planes

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func exampleFirewall(t *testing.T, host string, in FirewallInput) *Firewall {
	t.Helper()
	inv, problems := inventory.Parse("example.yaml", inventory.Example)
	if len(problems.Errors()) > 0 {
		t.Fatalf("the example inventory: %v", problems)
	}
	inv.Default()
	h := inv.Host(host)
	if h == nil {
		t.Fatalf("no host %s in the example", host)
	}
	fw, err := HostFirewall(inv, h, in)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

var services = FirewallInput{APIService: netip.MustParseAddr("10.96.0.1"), DNSService: netip.MustParseAddr("10.96.0.10")}

// TestFirewallGolden renders the rule sets of a control plane, a worker and a registry host of the example
// inventory, and has nft itself check each one (a rule nft refuses would fail the install on every host).
func TestFirewallGolden(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("nft is not installed (hack/deps.sh installs it): the rule sets cannot be checked")
	}
	for _, host := range []string{"cp1", "worker1", "reg1"} {
		t.Run(host, func(t *testing.T) {
			in := services
			in.SSHSources = []netip.Addr{netip.MustParseAddr("10.10.0.5"), netip.MustParseAddr("192.168.7.9")}
			data := exampleFirewall(t, host, in).Render()
			golden := filepath.Join("testdata", "firewall-"+host+".nft")
			if *update {
				if err := os.WriteFile(golden, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want) {
				t.Errorf("%s differs from %s (go test ./internal/planes -run Firewall -update):\n%s", host, golden, data)
			}
			if nft == "" || os.Geteuid() != 0 {
				t.Skip("nft -c needs nft and root")
			}
			f := filepath.Join(t.TempDir(), "fw.nft")
			if err := os.WriteFile(f, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(nft, "-c", "-f", f).CombinedOutput(); err != nil {
				t.Fatalf("nft refuses the rule set of %s: %v\n%s", host, err, out)
			}
		})
	}
}

// TestFirewallPlanes checks the rules' meaning on the example: each service on its plane's NIC, restricted to the
// sources that plane allows, and pods kept from the management and control subnets.
func TestFirewallPlanes(t *testing.T) {
	cp := exampleFirewall(t, "cp1", FirewallInput{APIService: services.APIService, DNSService: services.DNSService,
		SSHSources: []netip.Addr{netip.MustParseAddr("10.10.0.5"), netip.MustParseAddr("192.168.7.9")}})
	nics := map[string]NICRules{}
	for _, n := range cp.NICs {
		nics[n.Interface] = n
	}
	find := func(iface, name string) *Service {
		for _, s := range nics[iface].Services {
			if strings.HasPrefix(s.Name, name) {
				return &s
			}
		}
		return nil
	}
	ssh := find("eth0", "ssh")
	if ssh == nil || ssh.Ports != "22" {
		t.Fatalf("management NIC: ssh %+v", ssh)
	}
	// The management plane covers 10.10.0.5; 192.168.7.9 is outside it and sshFrom, so it is added by itself.
	if got := set(ssh.From); got != "{ 10.10.0.0/24, 10.10.9.0/28, 192.168.7.9 }" {
		t.Errorf("ssh from %s", got)
	}
	// Besides SSH, the management NIC accepts only the inventory's own addition (firewall.allow: node exporter).
	if s := nics["eth0"].Services; len(s) != 2 || s[1].Name != "node exporter" || set(s[1].From) != "10.10.9.16/28" || s[1].Ports != "9100" {
		t.Errorf("the management NIC accepts %+v, want SSH and the node exporter", s)
	}
	etcd := find("eth1", "etcd")
	if etcd == nil || set(etcd.From) != "10.20.0.0/24" {
		t.Errorf("etcd must be open on control, from the control plane only: %+v", etcd)
	}
	vip := find("eth1", "the API on its VIP")
	if vip == nil || vip.From != nil || vip.To.String() != "10.20.0.100" {
		t.Errorf("the API's VIP must answer anyone on control: %+v", vip)
	}
	if s := find("eth2", ""); s != nil {
		t.Errorf("a control plane without a registry accepts %+v on storage", s)
	}
	if vx := find("eth3", "pod network"); vx == nil || vx.Proto != "udp" || set(vx.From) != "10.40.0.0/24" {
		t.Errorf("VXLAN on business: %+v", vx)
	}
	if got := set(cp.Guarded); got != "{ 10.10.0.0/24, 10.20.0.0/24 }" {
		t.Errorf("pods guarded from %s", got)
	}
	if strings.Join(cp.NodePortNICs, ",") != "eth0,eth1,eth2" {
		t.Errorf("NodePorts dropped on %v", cp.NodePortNICs)
	}

	reg := exampleFirewall(t, "reg1", services)
	if reg.PodCIDR.IsValid() || len(reg.NodePortNICs) != 0 {
		t.Errorf("a registry host is no node: %+v", reg)
	}
	var storage []string
	for _, n := range reg.NICs {
		if n.Interface == "eth1" {
			for _, s := range n.Services {
				storage = append(storage, s.Name+" "+s.Ports)
			}
		}
	}
	if got := strings.Join(storage, "; "); !strings.Contains(got, "registry system 5000") || !strings.Contains(got, "registry user 5001, 5002") || !strings.Contains(got, "VRRP of registry system") {
		t.Errorf("registry host storage NIC: %s", got)
	}
}

// TestFirewallNeedsServices refuses to guard pods without the Services they may still reach.
func TestFirewallNeedsServices(t *testing.T) {
	inv, _ := inventory.Parse("example.yaml", inventory.Example)
	inv.Default()
	if _, err := HostFirewall(inv, inv.Host("worker1"), FirewallInput{}); err == nil || !strings.Contains(err.Error(), "kube-dns") {
		t.Errorf("got %v", err)
	}
}
