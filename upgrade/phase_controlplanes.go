package upgrade

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/manifests"
)

// Waits of a control plane's upgrade.
const (
	apiServerWait = 5 * time.Minute // its API server ready after kubeadm replaced it
	nodeWait      = 5 * time.Minute // its node Ready with the new kubelet
	etcdWait      = 3 * time.Minute
	vipWait       = 2 * time.Minute
)

// controlPlanes upgrades the control planes one at a time, hop by hop: each is taken out of every haproxy first,
// so the VIP never sends a request to an API server about to restart, then upgraded (kubeadm upgrade apply on the
// first, kubeadm upgrade node on the others, with berth's patches), given the new kubelet, waited for (its API
// server, its etcd member, its node) and put back.
type controlPlanes struct {
	phase.Base
	r *run

	todo [][]string // per hop: the control planes that need it
}

func (p *controlPlanes) Title() string { return "Upgrade the control planes (one at a time)" }
func (p *controlPlanes) Name() string  { return "control-planes" }

// Prepare works out, from the hosts' facts, which control planes each hop still has to move: a control plane is
// done with a hop when its API server and its kubelet run that version or a newer one.
func (p *controlPlanes) Prepare(ctx context.Context) error {
	r := p.r
	if r.path == nil {
		return nil
	}
	for _, hop := range r.path.Hops {
		var hosts []string
		for _, h := range r.o.Inventory.ControlPlanes() {
			if !atLeast(r.c.State(h.Name).Versions, hop.To, "kube-apiserver", "kubelet") {
				hosts = append(hosts, h.Name)
			}
		}
		p.todo = append(p.todo, hosts)
	}
	return nil
}

// atLeast reports whether every named component runs v or newer.
func atLeast(versions map[string]string, v Version, components ...string) bool {
	for _, c := range components {
		have, err := ParseVersion(versions[c])
		if err != nil || have.Compare(v) < 0 {
			return false
		}
	}
	return true
}

func (p *controlPlanes) ShouldRun() bool {
	for _, hosts := range p.todo {
		if len(hosts) > 0 {
			return true
		}
	}
	return false
}

func (p *controlPlanes) Run(ctx context.Context) error {
	r := p.r
	for i, hop := range r.path.Hops {
		// The journal keys each host by its hop, so that a host done with one hop still takes the next.
		keys := make([]string, len(p.todo[i]))
		host := map[string]string{}
		for j, h := range p.todo[i] {
			keys[j] = h + " to " + hop.To.String()
			host[keys[j]] = h
		}
		// The control plane whose etcd member leads goes last, and each leadership hand-off goes to a member done
		// with the hop: the leadership moves once per hop, and every move can fail a request in flight.
		if leader, err := r.c.EtcdLeader(ctx); err == nil {
			keys = leaderLast(keys, func(k string) string { return host[k] }, leader)
		}
		var done []string
		err := p.EachBatched(ctx, 1, keys, func(ctx context.Context, key string) error {
			err := p.upgrade(ctx, host[key], hop, done)
			if err == nil {
				done = append(done, host[key])
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// leaderLast puts the keys of the leader's host at the end, the others in their order.
func leaderLast(keys []string, hostOf func(key string) string, leader string) []string {
	out := make([]string, 0, len(keys))
	var last []string
	for _, k := range keys {
		if hostOf(k) == leader {
			last = append(last, k)
		} else {
			out = append(out, k)
		}
	}
	return append(out, last...)
}

// upgrade moves one control plane to a hop's version; done are the control planes already moved in this hop, which
// take etcd's leadership if this one holds it.
func (p *controlPlanes) upgrade(ctx context.Context, host string, hop Hop, done []string) error {
	r, c := p.r, p.r.c
	s := p.Session
	if err := installer.SetAPIBackend(ctx, s, c, host, installer.BackendMaint); err != nil {
		return err
	}
	if err := c.HandOffEtcdLeader(ctx, s, host, done...); err != nil {
		return err
	}
	if _, err := c.InstallBinaries(ctx, s, hop.Bundle, host, "kubeadm"); err != nil {
		return err
	}
	if err := installer.WriteControlPlanePatches(ctx, s, c, host, hop.To.String()); err != nil {
		return err
	}
	verb, err := p.kubeadmVerb(ctx, hop)
	if err != nil {
		return err
	}
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	if err := s.Wet(host, "kubeadm "+verb+" (static pods and etcd to "+hop.To.String()+", berth's patches kept)", func() error {
		return installer.RunKubeadm(ctx, h, "kubeadm "+verb, "kubeadm "+verb+" --patches "+manifests.PatchesDir)
	}); err != nil {
		return err
	}
	if err := r.newKubelet(ctx, s, hop.Bundle, host, hop == r.path.Hops[len(r.path.Hops)-1]); err != nil {
		return err
	}
	hh := c.Inv.Host(host)
	apiserver := net.JoinHostPort(c.Inv.NodeIP(hh), strconv.Itoa(c.Inv.ControlPlane.LoadBalancer.APIServerPort))
	k, err := c.Kube(ctx)
	if err != nil {
		return err
	}
	// The new kubelet may compute other UIDs for the static pods and replace all of them a moment after its start,
	// while the API server of the kubelet before still answers: the host goes back behind the VIP only once its
	// kubelet runs its own static pods, ready.
	for _, w := range []phase.Wait{
		{What: "the static pods on " + host + " ready under its new kubelet", Timeout: apiServerWait, Every: 2 * time.Second,
			Check: phase.Condition(k.StaticPodsReady(host, kube.ControlPlanePods...))},
		{What: "the API server on " + host + " ready", Timeout: apiServerWait, Every: 2 * time.Second, Check: phase.Condition(kube.APIReady(apiserver, h.DialContext))},
		c.EtcdMemberHealthy(host, etcdWait),
		r.nodeAt(host, hop.To, nodeWait),
	} {
		if err := s.Wait(ctx, host, w); err != nil {
			return err
		}
	}
	if err := installer.SetAPIBackend(ctx, s, c, host, installer.BackendReady); err != nil {
		return err
	}
	return s.Wait(ctx, host, c.APIThroughVIP(vipWait))
}

// kubeadmVersion reads the Kubernetes version of the cluster's kubeadm configuration (kubeadm-config).
var kubeadmVersion = regexp.MustCompile(`(?m)^kubernetesVersion:\s*(\S+)`)

// kubeadmVerb says what kubeadm does on a control plane for a hop: "upgrade apply vX --yes" until the cluster's
// kubeadm configuration says the hop's version (the first control plane of the hop), "upgrade node" after. It reads
// the cluster, so a resumed run picks the right one whichever host was stopped. A dry run plans the apply.
func (p *controlPlanes) kubeadmVerb(ctx context.Context, hop Hop) (string, error) {
	// kubeadm's CoreDNS checks look for its own CoreDNS Deployment, which a berth cluster does not run (cluster DNS is
	// berth's add-on, upgraded by berth).
	apply := "upgrade apply " + hop.To.String() + " --yes --ignore-preflight-errors=" + manifests.IgnoredPreflight + ",CoreDNSUnsupportedPlugins,CoreDNSMigration"
	k, err := p.r.c.Kube(ctx)
	if err != nil {
		return "", err
	}
	cm, err := k.Clientset().CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read kubeadm's configuration: %w", err)
	}
	m := kubeadmVersion.FindStringSubmatch(cm.Data["ClusterConfiguration"])
	if m == nil {
		return "", fmt.Errorf("kubeadm's configuration (kube-system/kubeadm-config) names no kubernetesVersion")
	}
	if v, err := ParseVersion(m[1]); err == nil && v.Compare(hop.To) >= 0 {
		return "upgrade node", nil
	}
	return apply, nil
}

// newKubelet installs a bundle's kubelet and kubectl on a host and restarts the kubelet when anything changed
// (packages too, with the last hop's bundle: containerd and runc keep running containers across their restart).
func (r *run) newKubelet(ctx context.Context, s *phase.Session, b *bundles.Bundle, host string, packages bool) error {
	c := r.c
	installed, err := c.InstallBinaries(ctx, s, b, host, "kubelet", "kubectl")
	if err != nil {
		return err
	}
	n := 0
	if packages {
		if n, err = c.InstallPackages(ctx, s, host); err != nil {
			return err
		}
	}
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	what := "restart the kubelet (its configuration from kubeadm"
	if len(installed) > 0 || n > 0 {
		what += ", the new binaries and packages"
	}
	return s.Wet(host, what+")", func() error {
		_, err := h.Exec(ctx, "systemctl daemon-reload && systemctl restart kubelet")
		return err
	})
}

// nodeAt is the wait for a node to be Ready with its kubelet at version v.
func (r *run) nodeAt(node string, v Version, timeout time.Duration) phase.Wait {
	return phase.Wait{What: "node " + node + " Ready with kubelet " + v.String(), Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			k, err := r.c.Kube(ctx)
			if err != nil {
				return false, "", err
			}
			n, err := k.Clientset().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			have := n.Status.NodeInfo.KubeletVersion
			if hv, err := ParseVersion(have); err != nil || hv.Compare(v) != 0 || !kube.NodeReady(n) {
				return false, fmt.Sprintf("node %s: kubelet %s, ready %t", node, have, kube.NodeReady(n)), nil
			}
			return true, "node " + node + " Ready with kubelet " + have, nil
		}}
}
