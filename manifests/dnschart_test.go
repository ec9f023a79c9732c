package manifests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestReverseZones(t *testing.T) {
	tests := []struct {
		cidrs []string
		want  string
	}{
		{[]string{"10.96.0.0/16"}, "96.10.in-addr.arpa"},
		{[]string{"10.96.0.0/16", "10.244.0.0/16"}, "96.10.in-addr.arpa 244.10.in-addr.arpa"},
		{[]string{"10.96.0.0/14"}, "96.10.in-addr.arpa 97.10.in-addr.arpa 98.10.in-addr.arpa 99.10.in-addr.arpa"},
		{[]string{"172.16.4.0/23"}, "4.16.172.in-addr.arpa 5.16.172.in-addr.arpa"},
		{[]string{"10.0.0.0/8", "10.96.0.0/12"}, "10.in-addr.arpa " + zonesOf(96, 111, "10")},
		{[]string{"192.168.7.9/24"}, "7.168.192.in-addr.arpa"},
		{[]string{"10.96.0.0/16", "10.96.0.0/16"}, "96.10.in-addr.arpa"},
	}
	for _, tt := range tests {
		got, err := ReverseZones(tt.cidrs...)
		if err != nil {
			t.Fatalf("%v: %v", tt.cidrs, err)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%v: got %s, want %s", tt.cidrs, strings.Join(got, " "), tt.want)
		}
	}
	for _, bad := range []string{"10.96.0.0", "fd00::/64", "0.0.0.0/0", "x"} {
		if _, err := ReverseZones(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func zonesOf(from, to int, suffix string) string {
	var z []string
	for i := from; i <= to; i++ {
		z = append(z, strconv.Itoa(i)+"."+suffix+".in-addr.arpa")
	}
	return strings.Join(z, " ")
}

func TestNthAddress(t *testing.T) {
	tests := []struct {
		cidr string
		n    uint32
		want string
	}{
		{"10.96.0.0/16", 10, "10.96.0.10"},
		{"10.96.0.0/16", 1, "10.96.0.1"},
		{"10.96.0.0/12", 10, "10.96.0.10"},
		{"172.20.255.0/24", 10, "172.20.255.10"},
		{"10.96.5.7/16", 10, "10.96.0.10"},
	}
	for _, tt := range tests {
		got, err := NthAddress(tt.cidr, tt.n)
		if err != nil || got != tt.want {
			t.Errorf("NthAddress(%s, %d) = %s, %v; want %s", tt.cidr, tt.n, got, err, tt.want)
		}
	}
	if _, err := NthAddress("10.96.0.0/29", 10); err == nil {
		t.Error("10th address of a /29 accepted")
	}
}

func testDNSValues(variant string) DNSValues {
	return DNSValues{
		Variant: variant, ClusterDomain: "cluster.local", ServiceIP: "10.96.0.10", APIServiceIP: "10.96.0.1",
		ReverseZones: []string{"96.10.in-addr.arpa", "244.10.in-addr.arpa"},
		Upstreams:    []string{"10.10.0.53", "10.10.0.54#5300"}, CacheSize: 1000,
		Forward: []DNSForward{{Domain: "corp.bank.internal", Servers: []string{"10.1.10.10", "10.1.10.11#5353"}},
			{Domain: "10.in-addr.arpa", Servers: []string{"10.1.10.10"}}},
		Images: DNSImages{Backend: "registry.k8s.io/coredns/coredns:v1.11.3", Dnsmasq: "berth.sh/dnsmasq:2.90",
			Health: "berth.sh/dns-health:0.2.0"},
	}
}

// TestRenderDNS renders both variants, compares them with goldens and decodes every object strictly with the
// Kubernetes scheme, then checks what distinguishes the variants.
func TestRenderDNS(t *testing.T) {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	for _, variant := range []string{DNSManagement, DNSUser} {
		t.Run(variant, func(t *testing.T) {
			r, err := RenderDNS(testDNSValues(variant))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "dns-"+variant, []byte(r.Manifest))
			var kinds []string
			var ds *appsv1.DaemonSet
			var svc *corev1.Service
			for _, doc := range strings.Split(r.Manifest, "---\n") {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				obj, gvk, err := codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
				if err != nil {
					t.Fatalf("decode: %v\n%s", err, doc)
				}
				kinds = append(kinds, gvk.Kind)
				switch o := obj.(type) {
				case *appsv1.DaemonSet:
					ds = o
				case *corev1.Service:
					svc = o
				}
			}
			if got := strings.Join(kinds, ","); got != "ServiceAccount,ConfigMap,ClusterRole,ClusterRoleBinding,Service,DaemonSet" {
				t.Errorf("kinds = %s", got)
			}
			if svc == nil || svc.Spec.ClusterIP != "10.96.0.10" || svc.Name != DNSService || svc.Namespace != DNSNamespace {
				t.Fatalf("kube-dns Service wrong: %+v", svc)
			}
			pod := ds.Spec.Template.Spec
			if !pod.HostNetwork || pod.NodeSelector[DNSNodeLabel] != "true" {
				t.Errorf("DNS pods: hostNetwork %v, nodeSelector %v", pod.HostNetwork, pod.NodeSelector)
			}
			for k, v := range svc.Spec.Selector {
				if ds.Spec.Template.Labels[k] != v {
					t.Errorf("the Service selects %s=%s, the DNS pods are labelled %v", k, v, ds.Spec.Template.Labels)
				}
			}
			var names []string
			for _, c := range pod.Containers {
				names = append(names, c.Name)
				if c.ImagePullPolicy != corev1.PullNever {
					t.Errorf("container %s may pull", c.Name)
				}
			}
			want := []string{"backend", "health"}
			if variant == DNSManagement {
				want = []string{"backend", "dnsmasq", "health"}
			}
			if !slices.Equal(names, want) {
				t.Errorf("containers = %v, want %v", names, want)
			}
			for _, line := range []string{"server=/cluster.local/127.0.0.1#10053", "server=/244.10.in-addr.arpa/127.0.0.1#10053",
				"server=/corp.bank.internal/10.1.10.10", "server=/corp.bank.internal/10.1.10.11#5353", "server=/10.in-addr.arpa/10.1.10.10",
				"server=10.10.0.54#5300", "cache-size=1000", "no-resolv"} {
				if !strings.Contains(r.DnsmasqConf, line+"\n") {
					t.Errorf("dnsmasq configuration lacks %q:\n%s", line, r.DnsmasqConf)
				}
			}
		})
	}
}

func TestRenderDNSRefusesBadValues(t *testing.T) {
	tests := map[string]func(*DNSValues){
		"variant":    func(v *DNSValues) { v.Variant = "both" },
		"service IP": func(v *DNSValues) { v.ServiceIP = "10.96.0" },
		"domain":     func(v *DNSValues) { v.ClusterDomain = "" },
		"image":      func(v *DNSValues) { v.Images.Dnsmasq = "" },
		"upstream":   func(v *DNSValues) { v.Upstreams = []string{"dns.bank.example"} },
		"cache":      func(v *DNSValues) { v.CacheSize = -1 },
		"forwarded cluster domain": func(v *DNSValues) {
			v.Forward = []DNSForward{{Domain: "svc.cluster.local", Servers: []string{"10.1.10.10"}}}
		},
		"forward server": func(v *DNSValues) {
			v.Forward = []DNSForward{{Domain: "corp.bank.internal", Servers: []string{"dns.bank.example"}}}
		},
		"forward without servers": func(v *DNSValues) { v.Forward = []DNSForward{{Domain: "corp.bank.internal"}} },
	}
	for name, mutate := range tests {
		v := testDNSValues(DNSManagement)
		mutate(&v)
		if _, err := RenderDNS(v); err == nil {
			t.Errorf("%s: bad values accepted", name)
		}
	}
	v := testDNSValues(DNSUser)
	v.Images.Dnsmasq = ""
	if _, err := RenderDNS(v); err != nil {
		t.Errorf("the user variant needs no dnsmasq image: %v", err)
	}
}

// TestDNSHostConfChecksWithDnsmasq has the real dnsmasq check the configuration berth writes on user-variant hosts
// and the one the management variant's pod reads (with the pod's extra arguments).
func TestDNSHostConfChecksWithDnsmasq(t *testing.T) {
	dnsmasq := requireTool(t, "dnsmasq")
	r, err := RenderDNS(testDNSValues(DNSUser))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := DNSHostConf(r, "10.20.0.11")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(conf), "\nlisten-address=10.20.0.11\n") {
		t.Errorf("host configuration does not end with the listen address:\n%s", conf)
	}
	if _, err := DNSHostConf(r, "cp1"); err == nil {
		t.Error("a host name accepted as listen address")
	}
	dir := t.TempDir()
	host := filepath.Join(dir, "berth.conf")
	if err := os.WriteFile(host, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	pod := filepath.Join(dir, "dnsmasq.conf")
	if err := os.WriteFile(pod, []byte(r.DnsmasqConf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--test", "--conf-file=" + host},
		{"--test", "--conf-file=" + pod, "--listen-address=10.20.0.11", "--log-facility=-", "--pid-file=", "--user=root", "--group="},
	} {
		if out, err := exec.Command(dnsmasq, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "syntax check OK") {
			t.Errorf("dnsmasq %v: %v\n%s", args, err, out)
		}
	}
	bad := append([]byte(nil), conf...)
	bad = append(bad, "server=/cluster.local/not-an-address\n"...)
	if err := os.WriteFile(host, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(dnsmasq, "--test", "--conf-file="+host).CombinedOutput(); err == nil {
		t.Errorf("dnsmasq accepted a broken configuration, so the check above proves nothing:\n%s", out)
	}
}

// Where the DNS hosts pull the add-on's images from the System registry, its pods may pull; elsewhere they never do.
func TestRenderDNSPullPolicy(t *testing.T) {
	v := testDNSValues(DNSManagement)
	v.PullPolicy = PullPolicy(true)
	r, err := RenderDNS(v)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(r.Manifest, "imagePullPolicy: IfNotPresent"); n != 4 || strings.Contains(r.Manifest, "imagePullPolicy: Never") {
		t.Errorf("%d containers pull if not present, want all 4 (3 containers and the init container):\n%s", n, r.Manifest)
	}
}
