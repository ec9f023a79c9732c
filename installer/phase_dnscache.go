package installer

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/manifests"
)

// dnsCache runs the node-local DNS cache on every node: a dnsmasq (from the bundle's package) that answers on the
// kube-dns Service's address on the node itself and asks every DNS host at once, so that a DNS host that stops
// answering costs pods no query (docs/dns.md). Pods keep the Service's address as their nameserver: nothing a
// workload sets changes. When the cache stops, its address and rules go, and queries reach the DNS hosts through
// the Service as before.
type dnsCache struct {
	phase.Base
	c *Cluster

	targets dnsTargets
	files   []airgap.File
	todo    map[string]cacheService // nodes where the service must change
}

// cacheService is the state of the cache's service on a node, and what must change.
type cacheService struct {
	active, enabled bool
	changed         []string // files that differ
}

// restart reports whether the service must (re)start: it is not running, or any of its files changed.
func (s cacheService) restart() bool { return !s.active || len(s.changed) > 0 }

func (p *dnsCache) Title() string { return "Run the node-local DNS cache on every node" }
func (p *dnsCache) Name() string  { return "dns-cache" }

// DNSCache returns the phase that runs the node-local DNS cache, for the actions that build on the install.
func DNSCache(c *Cluster) phase.Phase { return &dnsCache{c: c} }

// cacheFiles renders the cache's files from the inventory.
func (c *Cluster) cacheFiles() (dnsTargets, []airgap.File, error) {
	inv := c.Inv
	t, err := newDNSTargets(inv)
	if err != nil {
		return t, nil, err
	}
	var servers []string
	for _, h := range inv.DNSHosts() {
		servers = append(servers, inv.NodeIP(h))
	}
	size := 1000
	if inv.DNS.CacheSize != nil {
		size = *inv.DNS.CacheSize
	}
	conf, unit, script, err := manifests.DNSCacheFiles(manifests.DNSCache{ServiceIP: t.ServiceIP.String(), Servers: servers, CacheSize: size})
	if err != nil {
		return t, nil, err
	}
	return t, []airgap.File{
		{Path: manifests.DNSCacheNetScript, Content: script, Mode: 0o755},
		{Path: manifests.DNSCacheConfPath, Content: conf, Mode: 0o644},
		{Path: manifests.DNSCacheUnitPath, Content: unit, Mode: 0o644},
	}, nil
}

func (p *dnsCache) Prepare(ctx context.Context) error {
	var err error
	if p.targets, p.files, err = p.c.cacheFiles(); err != nil {
		return err
	}
	p.todo = map[string]cacheService{}
	paths := make([]string, len(p.files))
	for i, f := range p.files {
		paths[i] = f.Path
	}
	var mu sync.Mutex
	return phase.ParallelEach(ctx, phase.DefaultConcurrency, names(p.c.Inv.Nodes()), func(h string) string { return h },
		func(ctx context.Context, host string) error {
			h, err := p.c.Host(host)
			if err != nil {
				return err
			}
			have, err := airgap.Digests(ctx, h, paths)
			if err != nil {
				return err
			}
			state, _ := h.Exec(ctx, "echo $(systemctl is-active "+manifests.DNSCacheUnit+" 2>/dev/null) $(systemctl is-enabled "+manifests.DNSCacheUnit+" 2>/dev/null)")
			f := strings.Fields(state + " x x")
			s := cacheService{active: f[0] == "active", enabled: f[1] == "enabled"}
			for _, file := range p.files {
				if have[file.Path] != airgap.SHA256(file.Content) {
					s.changed = append(s.changed, file.Path)
				}
			}
			if len(s.changed) > 0 || !s.active || !s.enabled {
				mu.Lock()
				p.todo[host] = s
				mu.Unlock()
			}
			return nil
		})
}

func (p *dnsCache) ShouldRun() bool { return len(p.todo) > 0 }

func (p *dnsCache) Run(ctx context.Context) error {
	var hosts []string
	for _, h := range names(p.c.Inv.Nodes()) {
		if _, ok := p.todo[h]; ok {
			hosts = append(hosts, h)
		}
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		h, err := p.c.Host(host)
		if err != nil {
			return err
		}
		changed, err := airgap.EnsureFiles(ctx, p.Session, host, h, p.files)
		if err != nil {
			return err
		}
		s := p.todo[host]
		verb := "restart"
		if !s.active {
			verb = "start"
		}
		cmds := []string{}
		if slices.Contains(changed, manifests.DNSCacheUnitPath) {
			cmds = append(cmds, "systemctl daemon-reload")
		}
		if !s.enabled {
			cmds = append(cmds, "systemctl enable --quiet "+manifests.DNSCacheUnit)
		}
		if s.restart() {
			cmds = append(cmds, "systemctl "+verb+" "+manifests.DNSCacheUnit)
		}
		if len(cmds) > 0 {
			err := p.Wet(host, strings.Join(cmds, ", "), func() error {
				_, err := h.Exec(ctx, strings.Join(cmds, " && ")+" || { journalctl -u "+manifests.DNSCacheUnit+" -n 20 --no-pager >&2; exit 1; }")
				return err
			})
			if err != nil {
				return err
			}
		}
		return p.Wait(ctx, host, p.c.cacheAnswers(p.targets, host, time.Minute))
	})
}

// cacheAnswers is the wait for the cache on a node to answer for the cluster domain on the Service's address.
func (c *Cluster) cacheAnswers(t dnsTargets, host string, timeout time.Duration) phase.Wait {
	server := net.JoinHostPort(t.ServiceIP.String(), "53")
	return phase.Wait{What: "the DNS cache on " + host + " to answer on " + server, Timeout: timeout, Every: time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			h, err := c.Host(host)
			if err != nil {
				return false, "", err
			}
			if _, err := t.askThrough(ctx, h, server); err != nil {
				return false, fmt.Sprintf("the cache on %s: %v", host, err), nil
			}
			return true, "the DNS cache on " + host + " answers", nil
		}}
}
