package installer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// prepareOS installs the bundle's Debian packages offline, and sets what Kubernetes needs of the OS: sysctls,
// kernel modules (only where they are not built in), swap, the hostname and every node in /etc/hosts.
type prepareOS struct {
	phase.Base
	c *Cluster

	hosts string // berth's block of /etc/hosts, the same on every node
}

func (p *prepareOS) Title() string { return "Prepare the operating system" }
func (p *prepareOS) Name() string  { return "os" }

const sysctlContent = `# Written by berth: what Kubernetes networking needs.
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
# The kubelet, containerd and every pod's log and config watches use inotify; distribution defaults run out.
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 524288
`

const modulesContent = `# Written by berth: loaded at boot where they are modules rather than built in.
overlay
br_netfilter
`

func (p *prepareOS) Prepare(ctx context.Context) error {
	p.hosts = p.hostsBlock()
	return nil
}

// packagesFor returns the staged .debs a host lacks at the bundle's version, and the names of those it did not
// have at all (reset removes exactly those), from the facts read of the host.
func (c *Cluster) packagesFor(host string) (debs, fresh []string) {
	st := c.State(host)
	var only []string // a host that is no node gets what it runs needs, nothing more
	if h := c.Inv.Host(host); h != nil && !h.IsNode() {
		only, _ = c.nonNodePackages(host)
		if len(only) == 0 {
			return nil, nil
		}
	}
	for _, pkg := range c.Bundle.Manifest.Packages {
		if st.Packages[pkg.Name] == pkg.Version || (only != nil && !slices.Contains(only, pkg.Name)) {
			continue
		}
		debs = append(debs, airgap.StagePath(pkg.SHA256))
		if _, had := st.Packages[pkg.Name]; !had {
			fresh = append(fresh, pkg.Name)
		}
	}
	return debs, fresh
}

func (p *prepareOS) Run(ctx context.Context) error {
	return p.Each(ctx, names(p.c.Inv.Nodes()), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		if _, err := p.c.InstallPackages(ctx, p.Session, host); err != nil {
			return err
		}
		if err := p.kernel(ctx, host, e); err != nil {
			return err
		}
		if err := p.swap(ctx, host, e); err != nil {
			return err
		}
		if err := p.c.ensureKubeletResolvConf(ctx, p.Session, host, e); err != nil {
			return err
		}
		return p.names(ctx, host, e)
	})
}

// InstallPackages runs dpkg on the staged .debs a host lacks at the bundle's version (as the facts read it), and
// returns how many it installed (or would). Services the packages would start are held back (policy-rc.d): berth
// configures and starts each one itself, and a package's default configuration must never run on a cluster host
// (dnsmasq would take port 53). A package upgraded in place keeps its running service as it was.
func (c *Cluster) InstallPackages(ctx context.Context, s *phase.Session, host string) (int, error) {
	debs, fresh := c.packagesFor(host)
	if len(debs) == 0 {
		return 0, nil
	}
	e, err := c.Host(host)
	if err != nil {
		return 0, err
	}
	sort.Strings(debs)
	script := fmt.Sprintf(`set -e
mkdir -p /var/lib/berth
saved=
if [ -e /usr/sbin/policy-rc.d ]; then mv /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.berth-saved; saved=1; fi
restore() { rm -f /usr/sbin/policy-rc.d; if [ -n "$saved" ]; then mv /usr/sbin/policy-rc.d.berth-saved /usr/sbin/policy-rc.d; fi; }
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i %s
`, remote.QuoteAll(debs...))
	if len(fresh) > 0 {
		script += fmt.Sprintf("for p in %s; do grep -qx \"$p\" %s 2>/dev/null || echo \"$p\" >> %s; done\n",
			remote.QuoteAll(fresh...), packagesRecord, packagesRecord)
	}
	return len(debs), s.Wet(host, fmt.Sprintf("install %d Debian packages from the bundle (dpkg -i, services held back)", len(debs)), func() error {
		_, err := e.Exec(ctx, script)
		return err
	})
}

// kernel sets the sysctls and loads the modules Kubernetes needs, skipping modules the kernel has built in.
func (p *prepareOS) kernel(ctx context.Context, host string, e remote.Host) error {
	changed, err := airgap.EnsureFiles(ctx, p.Session, host, e, []airgap.File{
		{Path: sysctlFile, Content: []byte(sysctlContent)},
		{Path: modulesFile, Content: []byte(modulesContent)},
	})
	if err != nil {
		return err
	}
	facts, err := p.c.OSFacts(host)
	if err != nil {
		return err
	}
	var load []string
	for _, m := range []string{"overlay", "br_netfilter", "vxlan"} {
		if facts.NeedsModprobe(m) {
			load = append(load, m)
		}
	}
	if len(load) > 0 {
		if err := p.Wet(host, "modprobe "+strings.Join(load, " "), func() error {
			_, err := e.Exec(ctx, "modprobe -a "+strings.Join(load, " "))
			return err
		}); err != nil {
			return err
		}
	}
	current, err := e.Exec(ctx, "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables fs.inotify.max_user_instances")
	if err != nil {
		return err
	}
	if len(changed) > 0 || strings.Join(strings.Fields(current), " ") != "1 1 8192" {
		return p.Wet(host, "apply "+sysctlFile, func() error {
			_, err := e.Exec(ctx, "sysctl -q -p "+sysctlFile)
			return err
		})
	}
	return nil
}

// swap turns swap off where the host lets berth; where it cannot (a container sharing its machine's swap) the
// kubelet runs with swap tolerated, and says so.
func (p *prepareOS) swap(ctx context.Context, host string, e remote.Host) error {
	facts, err := p.c.OSFacts(host)
	if err != nil {
		return err
	}
	if len(facts.Swaps) == 0 {
		return nil
	}
	return p.Wet(host, "turn swap off (swapoff -a, swap lines in /etc/fstab commented out)", func() error {
		if _, err := e.Exec(ctx, "swapoff -a"); err != nil {
			p.Warnf(host, "swap cannot be turned off here (%v); the kubelet is configured to tolerate it", err)
			return nil
		}
		_, err := e.Exec(ctx, `sed -i.berth-saved -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|# \1  # disabled by berth|' /etc/fstab`)
		return err
	})
}

// names sets the hostname and lists every node in /etc/hosts (between berth's markers), written in place because
// /etc/hosts may be a bind mount.
func (p *prepareOS) names(ctx context.Context, host string, e remote.Host) error {
	if st := p.c.State(host); st.Hostname != host {
		if err := p.Wet(host, "set the hostname to "+host, func() error {
			_, err := e.Exec(ctx, "hostname "+remote.Quote(host)+" && printf '%s\\n' "+remote.Quote(host)+" > /etc/hostname")
			return err
		}); err != nil {
			return err
		}
	}
	current, err := e.ReadFile(ctx, "/etc/hosts")
	if err != nil {
		return err
	}
	want := withHostsBlock(string(current), p.hosts)
	_, err = airgap.EnsureFiles(ctx, p.Session, host, e, []airgap.File{{Path: "/etc/hosts", Content: []byte(want), InPlace: true}})
	return err
}

const (
	hostsBegin = "# BEGIN berth: cluster nodes"
	hostsEnd   = "# END berth"
)

func (p *prepareOS) hostsBlock() string {
	var b strings.Builder
	b.WriteString(hostsBegin + "\n")
	for _, h := range p.c.Inv.Nodes() {
		fmt.Fprintf(&b, "%s\t%s\n", p.c.Inv.NodeIP(h), h.Name)
	}
	b.WriteString(hostsEnd + "\n")
	return b.String()
}

// withHostsBlock replaces berth's block in an /etc/hosts file, or appends it.
func withHostsBlock(hosts, block string) string {
	start := strings.Index(hosts, hostsBegin)
	end := strings.Index(hosts, hostsEnd)
	if start >= 0 && end > start {
		rest := hosts[end+len(hostsEnd):]
		rest = strings.TrimPrefix(rest, "\n")
		return hosts[:start] + block + rest
	}
	if hosts != "" && !strings.HasSuffix(hosts, "\n") {
		hosts += "\n"
	}
	return hosts + block
}
