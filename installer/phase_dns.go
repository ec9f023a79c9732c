package installer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// installDNS installs cluster DNS the reference bank's way: the berth-dns chart (Helm SDK, through the SSH
// tunnel) runs a DNS pod in the host network of every DNS host, and the kube-dns Service that the kubelets'
// clusterDNS points at sends queries to dnsmasq on those hosts' control-plane addresses. In the user variant
// dnsmasq is the host's own service, configured here. Like every phase it reads first and changes only what
// differs: a second install changes nothing, a changed dns.variant converges to the other variant.
type installDNS struct {
	phase.Base
	c *Cluster

	targets dnsTargets
	values  manifests.DNSValues
	render  *manifests.DNSRender
	objs    []*unstructured.Unstructured

	rel     *kube.Release              // the release's Helm actions, from Prepare (nil before the cluster exists)
	release string                     // why the release must be installed or upgraded; "" when it is right
	labels  map[string]bool            // nodes whose DNS label must be set (true) or removed (false)
	hosts   map[string]hostDnsmasqPlan // nodes whose dnsmasq service must change
}

func (p *installDNS) Title() string { return "Install cluster DNS (host-network dnsmasq and CoreDNS)" }
func (p *installDNS) Name() string  { return "dns" }

func (p *installDNS) Prepare(ctx context.Context) error {
	inv := p.c.Inv
	if inv.DNS.Backend == "kube-dns" {
		return errors.New("dns.backend: kube-dns needs a bundle that carries a kube-dns image, and no berth bundle " +
			"does (k8s.io/dns cannot be built here): set dns.backend: coredns, the backend of every berth bundle")
	}
	if err := p.renderChart(); err != nil {
		return err
	}
	var err error
	if p.objs, err = kube.Objects([]byte(p.render.Manifest)); err != nil {
		return fmt.Errorf("read the rendered dns chart: %w", err)
	}
	// The hosts' services and the cluster's labels and release are read at once: each read waits on busy hosts.
	return concurrently(func() error { return p.readHosts(ctx) }, func() error { return p.readCluster(ctx) })
}

// concurrently runs independent steps at once and returns all their errors.
func concurrently(steps ...func() error) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = step()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// renderChart works out the DNS addresses and the chart's values from the inventory and the bundle, and renders
// the chart; it reads no host and no cluster.
func (p *installDNS) renderChart() error {
	var err error
	if p.targets, err = newDNSTargets(p.c.Inv); err != nil {
		return err
	}
	if p.values, err = p.dnsValues(); err != nil {
		return err
	}
	p.render, err = manifests.RenderDNS(p.values)
	return err
}

// dnsValues maps the inventory and the bundle's images onto the chart's values.
func (p *installDNS) dnsValues() (manifests.DNSValues, error) {
	inv, m := p.c.Inv, p.c.Bundle.Manifest
	var imgs manifests.DNSImages
	for _, im := range []struct {
		dst  *string
		repo string
	}{{&imgs.Backend, "coredns"}, {&imgs.Dnsmasq, "dnsmasq"}, {&imgs.Health, "dns-health"}} {
		if im.repo == "dnsmasq" && inv.DNS.Variant == manifests.DNSUser {
			continue // the hosts run dnsmasq from the bundle's Debian package
		}
		ref, err := airgap.ImageRef(m, im.repo)
		if err != nil {
			return manifests.DNSValues{}, fmt.Errorf("cluster DNS: %w", err)
		}
		*im.dst = ref
	}
	zones, err := manifests.ReverseZones(inv.Kubernetes.ServiceCIDR, inv.Kubernetes.PodCIDR)
	if err != nil {
		return manifests.DNSValues{}, err
	}
	cache := 1000
	if inv.DNS.CacheSize != nil {
		cache = *inv.DNS.CacheSize
	}
	return manifests.DNSValues{
		Variant:       inv.DNS.Variant,
		ClusterDomain: inv.Kubernetes.ClusterDomain,
		ServiceIP:     p.targets.ServiceIP.String(),
		APIServiceIP:  p.targets.APIService.String(),
		ReverseZones:  zones,
		Upstreams:     inv.DNS.Upstreams,
		Forward:       forwardedDomains(inv),
		CacheSize:     cache,
		Images:        imgs,
		PullPolicy:    p.c.pullPolicy(imgs.Backend, imgs.Dnsmasq, imgs.Health),
	}, nil
}

// isDNSHost reports whether a node serves DNS.
func isDNSHost(inv *inventory.Inventory, name string) bool {
	for _, h := range inv.DNSHosts() {
		if h.Name == name {
			return true
		}
	}
	return false
}

// readHosts reads every node's dnsmasq service and plans its changes.
func (p *installDNS) readHosts(ctx context.Context) error {
	inv := p.c.Inv
	p.hosts = map[string]hostDnsmasqPlan{}
	var mu sync.Mutex
	return phase.ParallelEach(ctx, 0, inv.Nodes(), func(h *inventory.Host) string { return h.Name },
		func(ctx context.Context, h *inventory.Host) error {
			e, err := p.c.Host(h.Name)
			if err != nil {
				return err
			}
			have, err := readHostDnsmasq(ctx, e)
			if err != nil {
				return err
			}
			if !have.Installed && p.IsDryRun() {
				// The os phase has not run yet: plan for the service as the package leaves it.
				have = hostDnsmasq{Installed: true, Enabled: "enabled", Active: "inactive"}
			}
			var conf []byte
			if inv.DNS.Variant == manifests.DNSUser && isDNSHost(inv, h.Name) {
				if !have.Installed {
					return fmt.Errorf("the dnsmasq package is not installed: the os phase installs it from the bundle")
				}
				if conf, err = manifests.DNSHostConf(p.render, inv.NodeIP(h)); err != nil {
					return err
				}
			}
			plan := planHostDnsmasq(have, conf)
			if !plan.empty() {
				mu.Lock()
				p.hosts[h.Name] = plan
				mu.Unlock()
			}
			return nil
		})
}

// readCluster compares the DNS labels and the Helm release with what the inventory wants.
func (p *installDNS) readCluster(ctx context.Context) error {
	inv := p.c.Inv
	p.labels = map[string]bool{}
	k, err := p.c.Kube(ctx)
	if errors.Is(err, errNoCluster) { // a dry run of a fresh install: everything is to do
		for _, h := range inv.DNSHosts() {
			p.labels[h.Name] = true
		}
		p.release = "install"
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.readLabels(ctx, k); err != nil {
		return err
	}
	if p.rel, err = k.Release(manifests.DNSRelease, manifests.DNSNamespace); err != nil {
		return err
	}
	p.release, err = p.rel.Diff(ctx, p.objs)
	return err
}

func (p *installDNS) ShouldRun() bool {
	return p.release != "" || len(p.labels) > 0 || len(p.hosts) > 0
}

func (p *installDNS) Run(ctx context.Context) error {
	inv := p.c.Inv
	if err := p.applyLabels(ctx); err != nil {
		return err
	}
	// Configuration files and enablement do not disturb a running dnsmasq, and the release does not depend on
	// them: both go at once.
	hostConfig := func() error {
		return p.eachHost(ctx, func(ctx context.Context, host string, plan hostDnsmasqPlan, e remote.Host) error {
			cfg := plan
			cfg.Restart, cfg.Stop = false, false
			if cfg.empty() {
				return nil
			}
			return p.Wet(host, strings.Join(cfg.describe(), ", "), func() error { return cfg.applyConfig(ctx, e) })
		})
	}
	release := func() error {
		if p.release == "" {
			return nil
		}
		what := fmt.Sprintf("helm %s release %s (%s variant, DNS on %s)", p.release, manifests.DNSRelease,
			inv.DNS.Variant, strings.Join(names(inv.DNSHosts()), ", "))
		return p.Wet("", what, func() error {
			p.Logf("", "helm %s", p.release)
			return p.applyRelease(ctx)
		})
	}
	if err := concurrently(hostConfig, release); err != nil {
		return err
	}
	// Starting and stopping wait for the DNS pods: port 53 of a host is either the pod's (management) or the
	// host's (user), and during a change of variant the pods are replaced one host at a time.
	if err := p.eachHost(ctx, func(ctx context.Context, host string, plan hostDnsmasqPlan, e remote.Host) error {
		switch {
		case plan.Restart:
			return p.Wet(host, "(re)start "+dnsmasqUnit+" once no DNS pod holds port 53 there", func() error {
				return p.startHostDnsmasq(ctx, host, e)
			})
		case plan.Stop:
			return p.Wet(host, "stop "+dnsmasqUnit+" (once the DNS pod's own dnsmasq is there, on DNS hosts)", func() error {
				return p.stopHostDnsmasq(ctx, host, e)
			})
		}
		return nil
	}); err != nil {
		return err
	}
	return p.waitAnswers(ctx)
}

// eachHost runs fn for the nodes whose dnsmasq service changes, in parallel, collecting every error.
func (p *installDNS) eachHost(ctx context.Context, fn func(ctx context.Context, host string, plan hostDnsmasqPlan, e remote.Host) error) error {
	var hosts []string
	for _, h := range p.c.Inv.Nodes() {
		if _, ok := p.hosts[h.Name]; ok {
			hosts = append(hosts, h.Name)
		}
	}
	return phase.ParallelEach(ctx, 0, hosts, func(s string) string { return s }, func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		return fn(ctx, host, p.hosts[host], e)
	})
}
