package installer

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// HostState is what berth has already done on a host and what runs there, read at the start of every run.
type HostState struct {
	Packages  map[string]string // installed Debian packages: name -> version
	Files     map[string]string // well-known files -> "yes" when present
	Versions  map[string]string // component -> version running or installed there (see Components)
	Kubelet   string            // systemctl is-active kubelet
	CapSysRes bool              // the host's root has CAP_SYS_RESOURCE
	Hostname  string
	Endpoint  string // the API endpoint the host's kubelet uses (host:port from kubelet.conf), "" when not joined
}

// Has reports whether a well-known file exists on the host.
func (s *HostState) Has(key string) bool { return s.Files[key] == "yes" }

// Components are the components whose versions the facts record, in the order status shows them: the Kubernetes
// binaries, the control plane's static pods, the runtime, the load balancer, DNS and the add-ons berth runs.
var Components = []string{"kubelet", "kubeadm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd",
	"kube-proxy", "containerd", "runc", "keepalived", "haproxy", "dnsmasq", "flannel", "coredns", "dns-health"}

// versionPackages are the components whose version is their Debian package's.
var versionPackages = map[string][]string{"containerd": {"containerd"}, "runc": {"runc"}, "keepalived": {"keepalived"},
	"haproxy": {"haproxy"}, "dnsmasq": {"dnsmasq", "dnsmasq-base"}}

// stateScript reads install state and versions; it only reads.
const stateScript = `export LC_ALL=C
f() { if [ -e "$2" ]; then echo "file $1 yes"; else echo "file $1 no"; fi; }
f admin /etc/kubernetes/admin.conf
f kubelet-conf /etc/kubernetes/kubelet.conf
f apiserver /etc/kubernetes/manifests/kube-apiserver.yaml
f etcd /etc/kubernetes/manifests/etcd.yaml
f etcd-data /var/lib/etcd/member
f pki /etc/kubernetes/pki/ca.crt
f berth /var/lib/berth
echo "kubelet $(systemctl is-active kubelet 2>/dev/null)"
echo "capbnd $(awk '/^CapBnd/ {print $2}' /proc/self/status)"
echo "hostname $(hostname)"
echo "endpoint $(sed -n 's/^ *server: *//p' /etc/kubernetes/kubelet.conf 2>/dev/null | head -n 1)"
[ -x ` + binDir + `/kubelet ] && echo "version kubelet $(` + binDir + `/kubelet --version 2>/dev/null | awk '{print $2}')"
[ -x ` + binDir + `/kubeadm ] && echo "version kubeadm $(` + binDir + `/kubeadm version -o short 2>/dev/null)"
if command -v ctr >/dev/null && [ -S /run/containerd/containerd.sock ]; then ctr -n k8s.io containers ls 2>/dev/null | awk 'NR > 1 {print "image " $2}'; fi
for m in /etc/kubernetes/manifests/*.yaml; do [ -f "$m" ] && echo "image $(sed -n 's/^ *image: *//p' "$m" | head -n 1)"; done
dpkg-query -W -f='pkg ${Package} ${Version} ${db:Status-Status}\n' 2>/dev/null
true
`

// capSysResource is the bit of CAP_SYS_RESOURCE in a capability mask.
const capSysResource = 24

// parseState reads stateScript's output.
func parseState(out string) *HostState {
	s := &HostState{Packages: map[string]string{}, Files: map[string]string{}, Versions: map[string]string{}}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "file":
			if len(f) == 3 {
				s.Files[f[1]] = f[2]
			}
		case "kubelet":
			s.Kubelet = f[1]
		case "hostname":
			s.Hostname = f[1]
		case "endpoint":
			s.Endpoint = strings.TrimPrefix(f[1], "https://")
		case "capbnd":
			s.CapSysRes = hasCap(f[1], capSysResource)
		case "version":
			if len(f) == 3 {
				s.Versions[f[1]] = f[2]
			}
		case "image": // containers first, then the static pod manifests, which win over a container not yet replaced
			repo, tag := airgap.RepoName(f[1]), imageTag(f[1])
			if slices.Contains(Components, repo) && tag != "" {
				s.Versions[repo] = tag
			}
		case "pkg":
			if len(f) >= 4 && f[len(f)-1] == "installed" {
				s.Packages[f[1]] = f[2]
			}
		}
	}
	for comp, pkgs := range versionPackages {
		for _, p := range pkgs {
			if v, ok := s.Packages[p]; ok {
				s.Versions[comp] = v
				break
			}
		}
	}
	return s
}

// imageTag returns the tag of an image reference ("" when it has none).
func imageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[i+1:]
	}
	return ""
}

func hasCap(mask string, bit uint) bool {
	var v uint64
	for _, c := range strings.TrimSpace(mask) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return false
		}
		v = v<<4 | d
	}
	return v&(1<<bit) != 0
}

// Facts is the phase that reads every host's install state and the versions of what runs there. It runs on every
// run (never journaled): hosts change between runs.
type Facts struct {
	phase.Base
	C     *Cluster
	Hosts []string // the hosts to read; nil for every host of the inventory
}

// Title names the phase.
func (p *Facts) Title() string { return "Read host state" }

// Name is the phase's machine name.
func (p *Facts) Name() string { return "facts" }

// AlwaysRun makes the phase run on every run.
func (p *Facts) AlwaysRun() bool { return true }

// Run reads every host, refuses a cluster whose hosts joined another endpoint, and forgets a journal that no
// longer describes the hosts.
func (p *Facts) Run(ctx context.Context) error {
	c := p.C
	hosts := p.Hosts
	if hosts == nil {
		hosts = c.allHosts()
	}
	err := p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		if err := c.refresh(ctx, host); err != nil {
			return err
		}
		s := c.State(host)
		p.Debugf(host, "%d packages, kubelet %s, admin.conf %s, kubelet.conf %s, versions %s", len(s.Packages), s.Kubelet,
			s.Files["admin"], s.Files["kubelet-conf"], formatVersions(s.Versions))
		return nil
	})
	if err != nil {
		return err
	}
	if err := sameEndpoint(c.Inv, hosts, c.State); err != nil {
		return err
	}
	// A journal from hosts that have since been rebuilt would skip work they no longer have. The stage and os
	// phases write /var/lib/berth on every node; a run that found the bundle already staged records the stage
	// phase as having nothing to do, not as done, so either one done is enough.
	if p.Recorded("stage") || p.Recorded("os") {
		var wiped []string
		for _, h := range names(c.Inv.Nodes()) { // the hosts the stage phase writes to
			if !c.State(h).Has("berth") {
				wiped = append(wiped, h)
			}
		}
		if len(wiped) > 0 {
			if err := p.ForgetProgress(fmt.Sprintf("an earlier run staged the bundle and prepared the OS, but %s no longer have /var/lib/berth (rebuilt or wiped since)",
				strings.Join(wiped, ", "))); err != nil {
				return err
			}
		}
	}
	// On hosts berth already installed, the ports its own components hold are expected to be taken.
	if c.preflight != nil {
		for _, h := range c.allHosts() {
			if st := c.State(h); st.Has("berth") || st.Has("kubelet-conf") {
				c.preflight.Options.Installed = true
			}
		}
	}
	return nil
}

// formatVersions lists versions as "kubelet=v1.31.4 containerd=1.6.20~ds1-1", in the order of Components.
func formatVersions(v map[string]string) string {
	var parts []string
	for _, c := range Components {
		if s, ok := v[c]; ok {
			parts = append(parts, c+"="+s)
		}
	}
	return strings.Join(parts, " ")
}

// sameEndpoint refuses an inventory whose API endpoint is not the one the hosts already joined: kubeadm put the
// endpoint into every certificate and kubeconfig, so berth never moves an installed cluster to another VIP or port.
// A control plane's kubelet may also talk to its own API server (its control-plane address and the API servers'
// port): kubeadm points it there from 1.33 on (ControlPlaneKubeletLocalMode), so that it does not depend on the VIP.
func sameEndpoint(inv *inventory.Inventory, hosts []string, state func(string) *HostState) error {
	want := inv.APIEndpoint()
	local := func(name string) string {
		h := inv.Host(name)
		if h == nil || !h.Has(inventory.RoleControlPlane) {
			return ""
		}
		return net.JoinHostPort(inv.NodeIP(h), strconv.Itoa(inv.ControlPlane.LoadBalancer.APIServerPort))
	}
	byEndpoint := map[string][]string{}
	for _, h := range hosts {
		if st := state(h); st != nil && st.Endpoint != "" && st.Endpoint != want && st.Endpoint != local(h) {
			byEndpoint[st.Endpoint] = append(byEndpoint[st.Endpoint], h)
		}
	}
	if len(byEndpoint) == 0 {
		return nil
	}
	var parts []string
	for _, ep := range slices.Sorted(maps.Keys(byEndpoint)) {
		parts = append(parts, fmt.Sprintf("%s joined the cluster at %s", strings.Join(byEndpoint[ep], ", "), ep))
	}
	return fmt.Errorf("%s (their /etc/kubernetes/kubelet.conf), but the inventory's control plane endpoint is %s; "+
		"berth does not move an installed cluster to another endpoint.\n"+
		"  fix: set controlPlane.vip and controlPlane.port back to the installed endpoint, or remove the cluster with berth reset first",
		strings.Join(parts, "; "), want)
}

// refresh re-reads one host's state after a phase changed it.
func (c *Cluster) refresh(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	out, err := h.Exec(ctx, stateScript)
	if err != nil {
		return err
	}
	c.setState(host, parseState(out))
	return nil
}
