package installer

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// joinControlPlanes joins the other control planes one at a time, each with its stacked etcd member, waiting for
// that member to be healthy before the next one joins (etcd keeps quorum throughout).
type joinControlPlanes struct {
	phase.Base
	c    *Cluster
	todo []string
	ms   *membership
}

func (p *joinControlPlanes) Title() string { return "Join the other control planes (one at a time)" }
func (p *joinControlPlanes) Name() string  { return "join-control-planes" }

func (p *joinControlPlanes) Prepare(ctx context.Context) error {
	var err error
	if p.ms, err = p.c.membership(ctx); err != nil {
		return err
	}
	first := p.c.First().Name
	for _, h := range p.c.Inv.ControlPlanes() {
		if h.Name != first && !p.c.joined(p.ms, h) {
			p.todo = append(p.todo, h.Name)
		}
	}
	return nil
}

func (p *joinControlPlanes) ShouldRun() bool { return len(p.todo) > 0 }

func (p *joinControlPlanes) Run(ctx context.Context) error {
	return p.EachBatched(ctx, 1, p.todo, func(ctx context.Context, host string) error {
		if err := joinHost(ctx, p.Session, p.c, p.ms, host); err != nil {
			return err
		}
		return p.Wait(ctx, host, p.c.EtcdMemberHealthy(host, 3*time.Minute))
	})
}

// joinWorkers joins every worker, in parallel.
type joinWorkers struct {
	phase.Base
	c    *Cluster
	todo []string
	ms   *membership
}

func (p *joinWorkers) Title() string { return "Join the workers" }
func (p *joinWorkers) Name() string  { return "join-workers" }

func (p *joinWorkers) Prepare(ctx context.Context) error {
	var err error
	if p.ms, err = p.c.membership(ctx); err != nil {
		return err
	}
	for _, h := range p.c.Inv.Workers() {
		if !p.c.joined(p.ms, h) {
			p.todo = append(p.todo, h.Name)
		}
	}
	return nil
}

func (p *joinWorkers) ShouldRun() bool { return len(p.todo) > 0 }

func (p *joinWorkers) Run(ctx context.Context) error {
	return p.Each(ctx, p.todo, func(ctx context.Context, host string) error {
		return joinHost(ctx, p.Session, p.c, p.ms, host)
	})
}

// joinHost runs kubeadm join on one host, first clearing what an unfinished earlier attempt left (its node object,
// its etcd member, its local state), so that a join is always retried from a clean start.
func joinHost(ctx context.Context, s *phase.Session, c *Cluster, ms *membership, host string) error {
	h := c.Inv.Host(host)
	e, err := c.Host(host)
	if err != nil {
		return err
	}
	if c.leftovers(ms, h) {
		if err := s.Wet(host, "clear the unfinished join of an earlier run (kubeadm reset, node and etcd member removed)", func() error {
			return clearJoin(ctx, c, ms, h, e)
		}); err != nil {
			return err
		}
	}
	cp := h.Has(inventory.RoleControlPlane)
	if cp {
		if err := writeControlPlanePatches(ctx, s, c, host, e, c.Bundle.Manifest.KubernetesVersion); err != nil {
			return err
		}
	}
	role := "worker"
	if cp {
		role = "control plane"
	}
	return s.Wet(host, fmt.Sprintf("kubeadm join %s as a %s (node IP %s)", c.Inv.APIEndpoint(), role, c.Inv.NodeIP(h)), func() error {
		js, err := c.secrets(ctx)
		if err != nil {
			return err
		}
		facts, err := c.OSFacts(host)
		if err != nil {
			return err
		}
		cc, err := c.clusterConfig(facts.CgroupDriver())
		if err != nil {
			return err
		}
		j := manifests.Join{Token: js.Token, CACertHashes: []string{js.CAHash}}
		if cp {
			j.CertificateKey = js.CertificateKey
		}
		config, err := manifests.KubeadmJoin(cc, c.nodeConfig(h), j)
		if err != nil {
			return err
		}
		file := configDir + "/kubeadm-join.yaml"
		if err := runDetached(ctx, e, "kubeadm join", "kubeadm join --config "+file+"; rc=$?; rm -f "+file+"; exit $rc",
			detachedFile{Path: file, Content: config}, []string{js.Token, js.CertificateKey}); err != nil {
			return err
		}
		return c.refresh(ctx, host)
	})
}

// clearJoin removes what an unfinished join left: the node object, the etcd member (asked of the first control
// plane, which keeps quorum), and the host's kubeadm state.
func clearJoin(ctx context.Context, c *Cluster, ms *membership, h *inventory.Host, e remote.Host) error {
	if err := waitDetached(ctx, e); err != nil {
		return err
	}
	if m, ok := ms.member(c.Inv, h); ok {
		et, err := c.Etcd(ctx)
		if err != nil {
			return err
		}
		err = et.RemoveMember(ctx, m.ID)
		et.Close()
		if err != nil {
			return fmt.Errorf("remove the etcd member of %s: %w", h.Name, err)
		}
	}
	if ms.Nodes[h.Name] != nil {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		if err := k.Clientset().CoreV1().Nodes().Delete(ctx, h.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete node %s: %w", h.Name, err)
		}
	}
	if _, err := e.Exec(ctx, "kubeadm reset -f --cri-socket "+manifests.CRISocket+" >/dev/null 2>&1; rm -rf /etc/kubernetes/pki /var/lib/etcd/member"); err != nil {
		return err
	}
	return c.refresh(ctx, h.Name)
}
