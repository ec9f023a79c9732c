package manifests

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// KubeletResolvConfPath is the resolv.conf berth gives the kubelet when the inventory has search domains
// (KubeletConfiguration.resolvConf). The kubelet reads it for every pod it starts: pods of dnsPolicy Default and
// host-network pods get it as it is, every other pod gets its search domains after the cluster's own.
const KubeletResolvConfPath = "/etc/berth/resolv.conf"

// domainName matches a DNS name in lower case, without a trailing dot.
var domainName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// KubeletResolvConf renders the kubelet's resolv.conf: the kube-dns Service's address as the only name server (the
// node-local cache answers there on every node, and behind it the DNS hosts forward the bank's domains and every
// other name as the inventory says) and the search domains. Without search domains it has no search line: what a
// cluster installed with search domains gets when they are all removed.
func KubeletResolvConf(serviceIP string, search []string) ([]byte, error) {
	if a, err := netip.ParseAddr(serviceIP); err != nil || !a.Is4() {
		return nil, fmt.Errorf("kubelet resolv.conf: service address %q is not an IPv4 address", serviceIP)
	}
	for _, d := range search {
		if !domainName.MatchString(d) || len(d) > 253 {
			return nil, fmt.Errorf("kubelet resolv.conf: search domain %q is not a DNS domain", d)
		}
	}
	conf := "# The kubelet's resolv.conf, written by berth from the inventory (dns.searchDomains): do not edit.\n" +
		"# Pods of dnsPolicy Default and host-network pods get it as it is; every other pod gets the search domains\n" +
		"# after the cluster's own.\n" +
		"nameserver " + serviceIP + "\n"
	if len(search) > 0 {
		conf += "search " + strings.Join(search, " ") + "\n"
	}
	return []byte(conf), nil
}
