package manifests

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// The chart's files, partials (_helpers.tpl) included.
//
//go:embed all:charts/berth-dns
var dnsChartFS embed.FS

// Names and ports of berth's cluster DNS. The ports are host ports: the DNS pods share the host's network.
const (
	DNSRelease      = "berth-dns"                 // Helm release (and DaemonSet, ConfigMap) name
	DNSNamespace    = "kube-system"               // namespace of the release and of the kube-dns Service
	DNSService      = "kube-dns"                  // the Service the kubelets' clusterDNS points at
	DNSNodeLabel    = "berth.sh/dns"              // set to "true" on the DNS hosts
	DNSPort         = 53                          // dnsmasq, on each DNS host's control-plane address
	DNSBackendPort  = 10053                       // the backend, on 127.0.0.1
	DNSHealthPort   = 10054                       // the health sidecar, on 127.0.0.1
	DNSHostConfPath = "/etc/dnsmasq.d/berth.conf" // dnsmasq's configuration on the host (user variant)
)

// DNS variants (inventory dns.variant).
const (
	DNSManagement = "management" // dnsmasq runs in the DNS pod
	DNSUser       = "user"       // dnsmasq runs on the host as a service
)

// DNSValues is the typed input of the berth-dns chart.
type DNSValues struct {
	Variant       string       // DNSManagement or DNSUser
	ClusterDomain string       // e.g. cluster.local
	ServiceIP     string       // ClusterIP of the kube-dns Service (the kubelets' clusterDNS)
	APIServiceIP  string       // ClusterIP of the kubernetes Service, the answer a healthy DNS host gives
	ReverseZones  []string     // in-addr.arpa zones of the service and pod networks (ReverseZones)
	Upstreams     []string     // the site's resolvers: "ip" or "ip#port"
	Forward       []DNSForward // domains answered by resolvers of their own, asked instead of the upstreams
	CacheSize     int          // dnsmasq cache entries; 0 turns the cache off
	ForwardMax    int          // queries dnsmasq forwards at once; 0 for 1000
	Images        DNSImages    // from the bundle
	PullPolicy    string       // the pods' imagePullPolicy (PullPolicy); "" for Never
}

// DNSForward sends one domain (and its subdomains) to its own resolvers: dnsmasq's server=/domain/ip.
type DNSForward struct {
	Domain  string   // e.g. corp.bank.internal
	Servers []string // "ip" or "ip#port"
}

// DNSImages are the images of the DNS pods.
type DNSImages struct {
	Backend string // CoreDNS
	Dnsmasq string // dnsmasq (management variant only)
	Health  string // berth's health sidecar
}

func (v DNSValues) check() error {
	var errs []error
	if v.Variant != DNSManagement && v.Variant != DNSUser {
		errs = append(errs, fmt.Errorf("dns variant %q is neither %s nor %s", v.Variant, DNSManagement, DNSUser))
	}
	for name, ip := range map[string]string{"service IP": v.ServiceIP, "API service IP": v.APIServiceIP} {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			errs = append(errs, fmt.Errorf("dns %s %q is not an IPv4 address", name, ip))
		}
	}
	if v.ClusterDomain == "" {
		errs = append(errs, errors.New("dns cluster domain is empty"))
	}
	for _, f := range v.Forward {
		if !domainName.MatchString(f.Domain) || f.Domain == v.ClusterDomain || strings.HasSuffix(f.Domain, "."+v.ClusterDomain) {
			errs = append(errs, fmt.Errorf("dns forwarded domain %q is not a domain outside the cluster's", f.Domain))
		}
		if len(f.Servers) == 0 {
			errs = append(errs, fmt.Errorf("dns forwarded domain %s has no servers", f.Domain))
		}
	}
	if v.Images.Backend == "" || v.Images.Health == "" || (v.Variant == DNSManagement && v.Images.Dnsmasq == "") {
		errs = append(errs, fmt.Errorf("dns images are incomplete: %+v", v.Images))
	}
	return errors.Join(errs...)
}

// Map returns the chart values.
func (v DNSValues) Map() map[string]any {
	fwd := v.ForwardMax
	if fwd == 0 {
		fwd = 1000
	}
	list := func(s []string) []any {
		out := make([]any, len(s))
		for i, x := range s {
			out[i] = x
		}
		return out
	}
	forward := make([]any, len(v.Forward))
	for i, f := range v.Forward {
		forward[i] = map[string]any{"domain": f.Domain, "servers": list(f.Servers)}
	}
	dnsmasq := v.Images.Dnsmasq
	if dnsmasq == "" {
		dnsmasq = "unused"
	}
	return map[string]any{
		"variant":       v.Variant,
		"clusterDomain": v.ClusterDomain,
		"serviceIP":     v.ServiceIP,
		"apiServiceIP":  v.APIServiceIP,
		"reverseZones":  list(v.ReverseZones),
		"upstreams":     list(v.Upstreams),
		"forward":       forward,
		"cacheSize":     v.CacheSize,
		"forwardMax":    fwd,
		"nodeSelector":  map[string]any{DNSNodeLabel: "true"},
		"images":        map[string]any{"backend": v.Images.Backend, "dnsmasq": dnsmasq, "health": v.Images.Health},
		"pullPolicy":    pullPolicy(v.PullPolicy),
		"ports":         map[string]any{"dns": DNSPort, "backend": DNSBackendPort, "health": DNSHealthPort},
	}
}

// DNSChart loads the berth-dns chart embedded in the binary.
func DNSChart() (*chart.Chart, error) {
	const root = "charts/berth-dns"
	var files []*loader.BufferedFile
	err := fs.WalkDir(dnsChartFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := dnsChartFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, root+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the embedded dns chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load the embedded dns chart: %w", err)
	}
	return c, nil
}

// DNSRender is the chart rendered locally, as Helm would install it.
type DNSRender struct {
	Manifest    string // the objects, multi-document YAML in Helm's install order
	DnsmasqConf string // dnsmasq's configuration without a listen address (ConfigMap berth-dns, dnsmasq.conf)
	Corefile    string // the backend's configuration (ConfigMap berth-dns, Corefile)
}

// RenderDNS renders the chart with v, checking the values first (and against the chart's schema).
func RenderDNS(v DNSValues) (*DNSRender, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	c, err := DNSChart()
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ToRenderValues(c, v.Map(), chartutil.ReleaseOptions{Name: DNSRelease, Namespace: DNSNamespace,
		IsInstall: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("dns chart values: %w", err)
	}
	files, err := engine.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("render the dns chart: %w", err)
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	_, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("sort the dns chart's objects: %w", err)
	}
	var b strings.Builder
	r := &DNSRender{}
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		if m.Head.Kind == "ConfigMap" && m.Head.Metadata != nil && m.Head.Metadata.Name == DNSRelease {
			var cm struct {
				Data map[string]string `yaml:"data"`
			}
			if err := yaml.Unmarshal([]byte(m.Content), &cm); err != nil {
				return nil, fmt.Errorf("read the rendered dns ConfigMap: %w", err)
			}
			r.DnsmasqConf, r.Corefile = cm.Data["dnsmasq.conf"], cm.Data["Corefile"]
		}
	}
	if r.DnsmasqConf == "" {
		return nil, errors.New("the dns chart rendered no dnsmasq configuration")
	}
	r.Manifest = b.String()
	return r, nil
}

// DNSHostConf is dnsmasq's configuration for one DNS host of the user variant: the chart's configuration plus
// the host's control-plane address to listen on.
func DNSHostConf(r *DNSRender, listen string) ([]byte, error) {
	a, err := netip.ParseAddr(listen)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("dns listen address %q is not an IPv4 address", listen)
	}
	conf := r.DnsmasqConf
	if !strings.HasSuffix(conf, "\n") {
		conf += "\n" // Helm trims the rendered manifest, and with it the ConfigMap's last newline
	}
	return []byte(conf + "# This host's control-plane address: the kube-dns Service's endpoint for this host.\n" +
		"listen-address=" + a.String() + "\n"), nil
}

// NthAddress returns the n-th address of a network (0 is the network address): the kubernetes Service takes the
// 1st of the service network, kube-dns the 10th.
func NthAddress(cidr string, n uint32) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("network %q is not an IPv4 CIDR", cidr)
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if p.Bits() < 32 && uint64(n) >= uint64(1)<<(32-p.Bits()) {
		return "", fmt.Errorf("network %s has no address number %d", cidr, n)
	}
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), nil
}

// ReverseZones returns the in-addr.arpa zones that cover the networks: each network is split at the next octet
// boundary (10.96.0.0/12 -> 96.10 ... 111.10.in-addr.arpa), because reverse zones are delegated by whole octets.
// The zones come in the order of the networks, without duplicates.
func ReverseZones(cidrs ...string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() || p.Bits() == 0 {
			return nil, fmt.Errorf("network %q is not an IPv4 CIDR with a prefix", c)
		}
		p = p.Masked()
		bits := (p.Bits() + 7) / 8 * 8
		base := p.Addr().As4()
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		for i := uint32(0); i < uint32(1)<<(bits-p.Bits()); i++ {
			a := v + i<<(32-bits)
			octets := []string{fmt.Sprint(a >> 24), fmt.Sprint(a >> 16 & 0xff), fmt.Sprint(a >> 8 & 0xff), fmt.Sprint(a & 0xff)}[:bits/8]
			for l, r := 0, len(octets)-1; l < r; l, r = l+1, r-1 {
				octets[l], octets[r] = octets[r], octets[l]
			}
			z := strings.Join(octets, ".") + ".in-addr.arpa"
			if !seen[z] {
				seen[z] = true
				out = append(out, z)
			}
		}
	}
	return out, nil
}
