package manifests

import (
	"errors"
	"fmt"
	"net/netip"
)

// Where the node-local DNS cache lives on every node.
const (
	DNSCacheUnit      = "berth-dns-cache"                             // its systemd service
	DNSCacheUnitPath  = "/etc/systemd/system/berth-dns-cache.service" // the unit
	DNSCacheConfPath  = "/etc/berth/dns-cache.conf"                   // dnsmasq's configuration
	DNSCacheNetScript = "/usr/local/lib/berth/dns-cache-net"          // binds and releases the Service's address
	DNSCacheLabel     = "lo:berth-dns"                                // the label of the address on the loopback
)

// DNSCache is the input of the node-local DNS cache: a dnsmasq on every node, answering on the kube-dns Service's
// address and asking every DNS host at once.
type DNSCache struct {
	ServiceIP  string   // the kube-dns Service's ClusterIP: what pods ask
	Servers    []string // every DNS host's control-plane address, where dnsmasq answers on port 53
	CacheSize  int      // entries; 0 turns the cache off (queries are still spread over every DNS host)
	ForwardMax int      // queries forwarded at once; 0 for 1500
}

// DNSCacheFiles renders the cache's dnsmasq configuration, its systemd unit and its address script.
func DNSCacheFiles(c DNSCache) (conf, unit, script []byte, err error) {
	if a, err := netip.ParseAddr(c.ServiceIP); err != nil || !a.Is4() {
		return nil, nil, nil, fmt.Errorf("dns cache: service address %q is not an IPv4 address", c.ServiceIP)
	}
	if len(c.Servers) == 0 {
		return nil, nil, nil, errors.New("dns cache: no DNS host to ask")
	}
	for _, s := range c.Servers {
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			return nil, nil, nil, fmt.Errorf("dns cache: DNS host address %q is not an IPv4 address", s)
		}
	}
	if c.ForwardMax <= 0 {
		c.ForwardMax = 1500
	}
	data := struct {
		DNSCache
		Label, ConfPath, NetScript string
	}{c, DNSCacheLabel, DNSCacheConfPath, DNSCacheNetScript}
	if conf, err = render("dns-cache.conf", data); err != nil {
		return nil, nil, nil, err
	}
	if unit, err = render("berth-dns-cache.service", data); err != nil {
		return nil, nil, nil, err
	}
	script, err = render("dns-cache-net.sh", data)
	return conf, unit, script, err
}
