package installer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

func exampleInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, problems := inventory.Parse("example.yaml", inventory.Example)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	inv.Default()
	if ps := inv.Validate().Errors(); len(ps) > 0 {
		t.Fatal(ps)
	}
	return inv
}

func TestParseState(t *testing.T) {
	out := `file admin yes
file kubelet-conf no
kubelet active
capbnd 000001fffeffffff
hostname cp1
pkg containerd 1.6.20~ds1-1+deb12u1 installed
pkg runc 1.1.5+ds1-1+deb12u1 not-installed
`
	s := parseState(out)
	if !s.Has("admin") || s.Has("kubelet-conf") || s.Kubelet != "active" || s.Hostname != "cp1" {
		t.Errorf("state = %+v", s)
	}
	if s.CapSysRes {
		t.Error("CAP_SYS_RESOURCE read as present in a mask without bit 24")
	}
	if s.Packages["containerd"] != "1.6.20~ds1-1+deb12u1" || s.Packages["runc"] != "" {
		t.Errorf("packages = %v", s.Packages)
	}
	if !parseState("capbnd 000001ffffffffff\n").CapSysRes {
		t.Error("full capability mask read as lacking CAP_SYS_RESOURCE")
	}
}

func TestSameEndpoint(t *testing.T) {
	inv := exampleInventory(t)
	want := inv.APIEndpoint()
	states := map[string]*HostState{
		"cp1":     parseState("endpoint https://" + want + "\n"),
		"cp2":     parseState("endpoint \n"), // not joined yet
		"worker1": parseState("hostname worker1\n"),
	}
	hosts := []string{"cp1", "cp2", "worker1", "absent"}
	if err := sameEndpoint(inv, hosts, func(h string) *HostState { return states[h] }); err != nil {
		t.Fatalf("hosts on the inventory's endpoint refused: %v", err)
	}
	// From 1.33 on, kubeadm points a control plane's kubelet at its own API server.
	own := net.JoinHostPort(inv.NodeIP(inv.Host("cp1")), strconv.Itoa(inv.ControlPlane.LoadBalancer.APIServerPort))
	states["cp1"] = parseState("endpoint https://" + own + "\n")
	if err := sameEndpoint(inv, hosts, func(h string) *HostState { return states[h] }); err != nil {
		t.Fatalf("a control plane's kubelet on its own API server refused: %v", err)
	}
	states["worker1"] = parseState("endpoint https://" + own + "\n")
	if err := sameEndpoint(inv, hosts, func(h string) *HostState { return states[h] }); err == nil {
		t.Fatal("a worker joined at a control plane's own API server accepted")
	}
	states["cp1"] = parseState("endpoint https://" + want + "\n")
	states["cp2"] = parseState("endpoint https://10.20.0.99:6443\n")
	states["worker1"] = parseState("endpoint https://10.20.0.99:6443\n")
	err := sameEndpoint(inv, hosts, func(h string) *HostState { return states[h] })
	if err == nil {
		t.Fatal("hosts joined at another endpoint accepted")
	}
	for _, part := range []string{"cp2, worker1 joined the cluster at 10.20.0.99:6443", "endpoint is " + want, "controlPlane.vip", "berth reset"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error lacks %q:\n%v", part, err)
		}
	}
}

func TestHostsBlock(t *testing.T) {
	block := hostsBegin + "\n10.20.0.11\tcp1\n" + hostsEnd + "\n"
	orig := "127.0.0.1\tlocalhost\n"
	once := withHostsBlock(orig, block)
	if once != orig+block {
		t.Fatalf("append: %q", once)
	}
	if twice := withHostsBlock(once, block); twice != once {
		t.Fatalf("not idempotent: %q", twice)
	}
	other := hostsBegin + "\n10.20.0.12\tcp2\n" + hostsEnd + "\n"
	replaced := withHostsBlock(once+"10.0.0.9 db\n", other)
	if replaced != orig+other+"10.0.0.9 db\n" {
		t.Fatalf("replace: %q", replaced)
	}
	if got := withHostsBlock("127.0.0.1 localhost", block); !strings.HasPrefix(got, "127.0.0.1 localhost\n"+hostsBegin) {
		t.Fatalf("no trailing newline: %q", got)
	}
}

func TestProbeAddressIsFreeAndOnThePodPlane(t *testing.T) {
	inv := exampleInventory(t)
	addr, err := probeAddress(inv)
	if err != nil || addr != "10.40.0.254" {
		t.Fatalf("probe = %s, %v", addr, err)
	}
	inv.Hosts[0].NICs.Business.Address = "10.40.0.254"
	if addr, _ := probeAddress(inv); addr != "10.40.0.253" {
		t.Fatalf("probe with .254 taken = %s", addr)
	}
}

func TestCACertHash(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	want := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	got, err := caCertHash(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err != nil || got != "sha256:"+hex.EncodeToString(want[:]) {
		t.Fatalf("hash = %s, %v", got, err)
	}
	if _, err := caCertHash([]byte("not pem")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestLoadBalancerFiles(t *testing.T) {
	inv := exampleInventory(t)
	files, err := lbFiles(inv, inv.Host("cp2"))
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Content)
	}
	k := byPath[keepalivedConfig]
	for _, want := range []string{"interface eth1", "unicast_src_ip 10.20.0.12", "10.20.0.11", "10.20.0.13", "10.20.0.100/24 dev eth1", "priority 140"} {
		if !strings.Contains(k, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, k)
		}
	}
	if strings.Contains(k, "    10.20.0.12\n") {
		t.Error("cp2 lists itself as a VRRP peer")
	}
	h := byPath[haproxyConfig]
	for _, want := range []string{"bind 10.20.0.100:6443 transparent", "bind 127.0.0.1:6443", "server cp1 10.20.0.11:6444", "server cp3 10.20.0.13:6444"} {
		if !strings.Contains(h, want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
}

func TestClusterConfig(t *testing.T) {
	inv := exampleInventory(t)
	c := &Cluster{Inv: inv, Bundle: &bundles.Bundle{Manifest: &bundles.Manifest{KubernetesVersion: "v1.31.4",
		Images: []bundles.Image{{Refs: []string{"registry.k8s.io/kube-apiserver:v1.31.4"}}}}}}
	cc, err := c.clusterConfig("cgroupfs")
	if err != nil {
		t.Fatal(err)
	}
	if cc.ControlPlaneEndpoint != "10.20.0.100:6443" || cc.APIServerPort != 6444 || cc.ImageRepository != "registry.k8s.io" ||
		cc.KubernetesVersion != "v1.31.4" || cc.Kubelet.MaxPods != 110 {
		t.Errorf("cluster config = %+v", cc)
	}
	for _, san := range []string{"10.20.0.100", "api.payments-uat.example.bank", "cp1", "10.10.0.11", "10.20.0.13", "10.40.0.12"} {
		found := false
		for _, s := range cc.CertSANs {
			found = found || s == san
		}
		if !found {
			t.Errorf("cert SANs lack %s: %v", san, cc.CertSANs)
		}
	}
	// The example has search domains: the kubelet reads berth's resolv.conf; its forwarded domain reaches the chart.
	if cc.ResolvConf != manifests.KubeletResolvConfPath {
		t.Errorf("kubelet resolvConf = %q", cc.ResolvConf)
	}
	if f := forwardedDomains(inv); len(f) != 1 || f[0].Domain != "corp.example.bank" || f[0].Servers[0] != "10.10.0.55" {
		t.Errorf("forwarded domains %+v", f)
	}
	inv.DNS.SearchDomains = nil
	if cc, _ := c.clusterConfig("cgroupfs"); cc.ResolvConf != "" {
		t.Errorf("without search domains the kubelet keeps /etc/resolv.conf, not %q", cc.ResolvConf)
	}
	n := c.nodeConfig(inv.Host("worker1"))
	if n.Address != "10.20.0.21" || n.ControlPlane || n.Taints != nil {
		t.Errorf("worker1 = %+v", n)
	}
	if n := c.nodeConfig(inv.Host("worker2")); len(n.Taints) != 1 {
		t.Errorf("worker2 taints = %v", n.Taints)
	}
}

func TestNewTokenFormat(t *testing.T) {
	for range 20 {
		tok := newToken()
		id, secret, ok := strings.Cut(tok, ".")
		if !ok || len(id) != 6 || len(secret) != 16 || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyz0123456789.") != "" {
			t.Fatalf("token %q", tok)
		}
	}
	if len(newCertificateKey()) != 64 {
		t.Error("certificate key is not 32 bytes of hex")
	}
}

// The facts read the version of every component from what the host prints: binaries, packages, the static pod
// manifests (which win over a container not yet replaced) and the add-ons' containers.
func TestParseStateVersions(t *testing.T) {
	out := `version kubelet v1.31.4
version kubeadm v1.31.4
image registry.k8s.io/kube-apiserver:v1.31.4
image registry.k8s.io/kube-proxy:v1.31.4
image ghcr.io/flannel-io/flannel:v0.28.4
image registry.k8s.io/pause:3.10
image registry.k8s.io/kube-apiserver:v1.32.5
image registry.k8s.io/etcd:3.5.16-0
pkg containerd 1.6.20~ds1-1+deb12u1 installed
pkg dnsmasq-base 2.90-4~deb12u1 installed
pkg haproxy 2.6.12-1+deb12u2 config-files
`
	s := parseState(out)
	want := map[string]string{"kubelet": "v1.31.4", "kubeadm": "v1.31.4", "kube-apiserver": "v1.32.5", "kube-proxy": "v1.31.4",
		"flannel": "v0.28.4", "etcd": "3.5.16-0", "containerd": "1.6.20~ds1-1+deb12u1", "dnsmasq": "2.90-4~deb12u1"}
	if len(s.Versions) != len(want) {
		t.Errorf("versions %v, want %v", s.Versions, want)
	}
	for k, v := range want {
		if s.Versions[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, s.Versions[k], v, s.Versions)
		}
	}
	if got := formatVersions(s.Versions); !strings.HasPrefix(got, "kubelet=v1.31.4 kubeadm=v1.31.4 kube-apiserver=v1.32.5 etcd=3.5.16-0") {
		t.Errorf("formatVersions = %s", got)
	}
}

func TestPhaseNames(t *testing.T) {
	got := strings.Join(PhaseNames(), ",")
	want := "connect,facts,preflight,stage,os,firewall,runtime,images,registries,registry-mirrors,load-balancer,init,join-secrets,join-control-planes,join-workers,cni,dns,dns-cache,storage,nodes,kubeconfig"
	if got != want {
		t.Errorf("phases = %s", got)
	}
}

func TestKubeadmIdle(t *testing.T) {
	state := "file admin no\nkubelet inactive\n"
	if err := kubeadmIdle("cp2", state); err != nil {
		t.Errorf("idle host: %v", err)
	}
	err := kubeadmIdle("cp2", kubeadmBusy+"\n"+state)
	if err == nil || !strings.Contains(err.Error(), "still running on cp2") || !strings.Contains(err.Error(), kubeadmUnit) {
		t.Errorf("busy host: %v", err)
	}
	if s := parseState(kubeadmBusy + "\n" + state); s.Files["admin"] != "no" || s.Kubelet != "inactive" {
		t.Errorf("state after the wait's output: %+v", s)
	}
}
