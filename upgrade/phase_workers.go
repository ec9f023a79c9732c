package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
)

// gateWait bounds each health check after a batch of workers.
const gateWait = 5 * time.Minute

// workers upgrades the workers in batches of --max-unavailable: each is cordoned, drained with the eviction API
// (PodDisruptionBudgets honoured, a bounded wait), upgraded straight to the target (kubeadm upgrade node, the new
// kubelet) and uncordoned when berth cordoned it; after each batch the cluster must be healthy before the next.
type workers struct {
	phase.Base
	r *run

	todo []string
}

func (p *workers) Title() string { return "Upgrade the workers (in batches, drained first)" }
func (p *workers) Name() string  { return "workers" }

// Prepare picks the workers whose kubelet is not at the target, and those berth cordoned that a stopped run did
// not uncordon.
func (p *workers) Prepare(ctx context.Context) error {
	r := p.r
	if r.path == nil {
		return nil
	}
	k, kerr := r.c.Kube(ctx)
	for _, h := range r.o.Inventory.Workers() {
		if !atLeast(r.c.State(h.Name).Versions, r.path.Target, "kubelet") {
			p.todo = append(p.todo, h.Name)
			continue
		}
		if kerr == nil {
			if ours, err := k.CordonedByBerth(ctx, h.Name); err == nil && ours {
				p.todo = append(p.todo, h.Name)
			}
		}
	}
	return nil
}

func (p *workers) ShouldRun() bool { return len(p.todo) > 0 }

func (p *workers) Run(ctx context.Context) error {
	return p.EachBatched(ctx, p.r.batch, p.todo, p.upgrade, p.healthy)
}

// upgrade moves one worker to the target.
func (p *workers) upgrade(ctx context.Context, host string) error {
	r, c, s := p.r, p.r.c, p.Session
	target := r.o.target() // the control plane may be there already (a resumed run): the path has no hop left
	timeout := r.o.DrainTimeout
	if timeout <= 0 {
		timeout = DefaultDrainTimeout
	}
	ours := true
	if err := s.Wet(host, "cordon "+host, func() error {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		if ours, err = k.Cordon(ctx, host, "upgrade"); err == nil && !ours {
			s.Logf(host, "%s was cordoned before the upgrade: it stays cordoned afterwards", host)
		}
		return err
	}); err != nil {
		return err
	}
	how := "evicting, PodDisruptionBudgets honoured"
	if r.o.DisableEviction {
		how = "deleting pods, PodDisruptionBudgets NOT honoured (--disable-eviction)"
	}
	if err := s.Wet(host, fmt.Sprintf("drain %s (%s; waits up to %s)", host, how, timeout), func() error {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		return k.Drain(ctx, host, kube.DrainOptions{Timeout: timeout, DisableEviction: r.o.DisableEviction, Logger: c.Log})
	}); err != nil {
		return err
	}
	if !atLeast(c.State(host).Versions, r.path.Target, "kubelet") {
		if _, err := c.InstallBinaries(ctx, s, target, host, "kubeadm"); err != nil {
			return err
		}
		h, err := c.Host(host)
		if err != nil {
			return err
		}
		if err := s.Wet(host, "kubeadm upgrade node (the kubelet's configuration for "+r.path.Target.String()+")", func() error {
			return installer.RunKubeadm(ctx, h, "kubeadm upgrade node", "kubeadm upgrade node") // berth patches control planes only
		}); err != nil {
			return err
		}
		if err := r.newKubelet(ctx, s, target, host, true); err != nil {
			return err
		}
	}
	if err := s.Wait(ctx, host, r.nodeAt(host, r.path.Target, nodeWait)); err != nil {
		return err
	}
	if !ours {
		return nil
	}
	return s.Wet(host, "uncordon "+host, func() error {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		return k.Uncordon(ctx, host)
	})
}

// healthy is the gate after each batch: the API through the VIP, every node Ready, cluster DNS answering, and
// every system pod running.
func (p *workers) healthy(batch []string) phase.Wait {
	c := p.r.c
	vip := c.APIThroughVIP(gateWait)
	ready := c.ClusterReady(gateWait)
	dns, dnsErr := c.DNSAnswers(gateWait)
	return phase.Wait{What: "the API through the VIP, every node Ready, every system pod running and cluster DNS answering",
		Timeout: gateWait, Every: 2 * time.Second, Check: func(ctx context.Context) (bool, string, error) {
			if dnsErr != nil {
				return false, "", dnsErr
			}
			for _, w := range []phase.Wait{vip, ready, dns} {
				done, status, err := w.Check(ctx)
				if err != nil || !done {
					return false, status, err
				}
			}
			return true, "healthy after " + fmt.Sprint(batch), nil
		}}
}
