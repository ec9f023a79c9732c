package installer

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// HostState is what berth has already done on a host, read at the start of every run.
type HostState struct {
	Packages  map[string]string // installed Debian packages: name -> version
	Files     map[string]string // well-known files -> "yes" when present
	Kubelet   string            // systemctl is-active kubelet
	CapSysRes bool              // the host's root has CAP_SYS_RESOURCE
	Hostname  string
	Endpoint  string // the API endpoint the host's kubelet uses (host:port from kubelet.conf), "" when not joined
}

// Has reports whether a well-known file exists on the host.
func (s *HostState) Has(key string) bool { return s.Files[key] == "yes" }

// stateScript reads install state; it only reads.
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
dpkg-query -W -f='pkg ${Package} ${Version} ${db:Status-Status}\n' 2>/dev/null
`

// capSysResource is the bit of CAP_SYS_RESOURCE in a capability mask.
const capSysResource = 24

// parseState reads stateScript's output.
func parseState(out string) *HostState {
	s := &HostState{Packages: map[string]string{}, Files: map[string]string{}}
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
		case "pkg":
			if len(f) >= 4 && f[len(f)-1] == "installed" {
				s.Packages[f[1]] = f[2]
			}
		}
	}
	return s
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

// readFacts reads every host's install state. It runs on every run (never journaled): hosts change between runs.
type readFacts struct {
	phase.Base
	c *Cluster
}

func (p *readFacts) Title() string   { return "Read host state" }
func (p *readFacts) Name() string    { return "facts" }
func (p *readFacts) AlwaysRun() bool { return true }

func (p *readFacts) Run(ctx context.Context) error {
	err := p.Each(ctx, p.c.allHosts(), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		out, err := e.Exec(ctx, stateScript)
		if err != nil {
			return err
		}
		s := parseState(out)
		p.c.setState(host, s)
		p.Debugf(host, "%d packages, kubelet %s, admin.conf %s, kubelet.conf %s", len(s.Packages), s.Kubelet,
			s.Files["admin"], s.Files["kubelet-conf"])
		return nil
	})
	if err != nil {
		return err
	}
	if err := sameEndpoint(p.c.Inv, p.c.allHosts(), p.c.State); err != nil {
		return err
	}
	// A journal from hosts that have since been rebuilt would skip work they no longer have.
	if p.Recorded("stage") {
		var wiped []string
		for _, h := range names(p.c.Inv.Nodes()) { // the hosts the stage phase writes to
			if !p.c.State(h).Has("berth") {
				wiped = append(wiped, h)
			}
		}
		if len(wiped) > 0 {
			if err := p.ForgetProgress(fmt.Sprintf("the bundle was staged in an earlier run, but %s no longer have /var/lib/berth (rebuilt or wiped since)",
				strings.Join(wiped, ", "))); err != nil {
				return err
			}
		}
	}
	// On hosts berth already installed, the ports its own components hold are expected to be taken.
	if p.c.preflight != nil {
		for _, h := range p.c.allHosts() {
			if st := p.c.State(h); st.Has("berth") || st.Has("kubelet-conf") {
				p.c.preflight.Options.Installed = true
			}
		}
	}
	return nil
}

// sameEndpoint refuses an inventory whose API endpoint is not the one the hosts already joined: kubeadm put the
// endpoint into every certificate and kubeconfig, so berth never moves an installed cluster to another VIP or port.
func sameEndpoint(inv *inventory.Inventory, hosts []string, state func(string) *HostState) error {
	want := inv.APIEndpoint()
	byEndpoint := map[string][]string{}
	for _, h := range hosts {
		if st := state(h); st != nil && st.Endpoint != "" && st.Endpoint != want {
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
	e, err := c.Host(host)
	if err != nil {
		return err
	}
	out, err := e.Exec(ctx, stateScript)
	if err != nil {
		return err
	}
	c.setState(host, parseState(out))
	return nil
}

func fsMode(m uint32) fs.FileMode { return fs.FileMode(m) }
