package installer

import (
	"context"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// searchDomains returns the inventory's search domains without trailing dots.
func (c *Cluster) searchDomains() []string {
	var out []string
	for _, d := range c.Inv.DNS.SearchDomains {
		out = append(out, strings.TrimSuffix(d, "."))
	}
	return out
}

// kubeletResolvConf returns the path of the kubelet's resolv.conf for the kubelet configuration: berth's own when
// the inventory has search domains, "" (the host's /etc/resolv.conf) otherwise.
func (c *Cluster) kubeletResolvConf() string {
	if len(c.Inv.DNS.SearchDomains) == 0 {
		return ""
	}
	return manifests.KubeletResolvConfPath
}

// ensureKubeletResolvConf writes the kubelet's resolv.conf on a node before the kubelet starts (docs/dns.md): with
// the inventory's search domains, or, where the file exists and the inventory has none any more, without a search
// line, since a kubelet installed with search domains keeps reading the file.
func (c *Cluster) ensureKubeletResolvConf(ctx context.Context, s *phase.Session, host string, h remote.Host) error {
	search := c.searchDomains()
	if len(search) == 0 {
		have, err := airgap.Digests(ctx, h, []string{manifests.KubeletResolvConfPath})
		if err != nil || have[manifests.KubeletResolvConfPath] == "" {
			return err
		}
	}
	t, err := newDNSTargets(c.Inv)
	if err != nil {
		return err
	}
	conf, err := manifests.KubeletResolvConf(t.ServiceIP.String(), search)
	if err != nil {
		return err
	}
	_, err = airgap.EnsureFiles(ctx, s, host, h, []airgap.File{{Path: manifests.KubeletResolvConfPath, Content: conf, Mode: 0o644}})
	return err
}

// forwardedDomains maps the inventory's dns.forward onto the chart's values.
func forwardedDomains(inv *inventory.Inventory) []manifests.DNSForward {
	var out []manifests.DNSForward
	for _, f := range inv.DNS.Forward {
		out = append(out, manifests.DNSForward{Domain: strings.TrimSuffix(f.Domain, "."), Servers: f.Servers})
	}
	return out
}
