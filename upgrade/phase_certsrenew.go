package upgrade

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
)

// Waits of a control plane's renewal.
const (
	loadWait = 3 * time.Minute // its components running again with the new certificates
)

// restartComponents stops the control plane's static pods with SIGTERM: each finishes what it holds (the API server
// its requests, etcd its raft messages) and exits, and the kubelet starts it again at once from the same manifest,
// reading the certificates on disk. Unlike moving the manifests away, nothing is left to put back if berth dies
// half-way.
const restartComponents = `for p in kube-apiserver kube-controller kube-scheduler etcd; do pkill -TERM -x "$p" || true; done`

// renewCerts renews the certificates of the control planes one at a time (see RenewCertificates).
type renewCerts struct {
	phase.Base
	r *renewal
}

func (p *renewCerts) Title() string { return "Renew the certificates (one control plane at a time)" }
func (p *renewCerts) Name() string  { return "renew" }

func (p *renewCerts) Run(ctx context.Context) error {
	c := p.r.c
	hosts := hostNames(c.Inv.ControlPlanes())
	// As in the upgrade, the control plane whose etcd member leads goes last and hands its leadership to a renewed
	// member: the leadership moves once, and every move can fail a request in flight.
	if leader, err := c.EtcdLeader(ctx); err == nil {
		hosts = leaderLast(hosts, func(h string) string { return h }, leader)
	}
	var done []string
	err := p.EachBatched(ctx, 1, hosts, func(ctx context.Context, host string) error {
		err := p.renew(ctx, host, done)
		if err == nil {
			done = append(done, host)
		}
		return err
	})
	if err != nil {
		return err
	}
	c.ForgetKube() // admin.conf was renewed too: the kubeconfig phase reads it again
	if p.IsDryRun() {
		return nil
	}
	p.r.after, err = readCertificates(ctx, c)
	return err
}

// renew renews one control plane and waits until it serves with the new certificates; done are the control planes
// already renewed, which take etcd's leadership if this one holds it.
func (p *renewCerts) renew(ctx context.Context, host string, done []string) error {
	c, s := p.r.c, p.Session
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	alone := len(c.Inv.ControlPlanes()) == 1 // taking the only API server out of haproxy would only refuse every request
	if !alone {
		if err := installer.SetAPIBackend(ctx, s, c, host, installer.BackendMaint); err != nil {
			return err
		}
		if err := c.HandOffEtcdLeader(ctx, s, host, done...); err != nil {
			return err
		}
	}
	if err := s.Wet(host, "kubeadm certs renew all (every certificate and kubeconfig kubeadm made on "+host+", for another year; the CAs stay)", func() error {
		return installer.RunKubeadm(ctx, h, "kubeadm certs renew", "kubeadm certs renew all")
	}); err != nil {
		return err
	}
	if err := s.Wet(host, "restart the API server, controller manager, scheduler and etcd on "+host+" (SIGTERM: each finishes its work, the kubelet starts it again with the new certificates)", func() error {
		_, err := h.Exec(ctx, restartComponents)
		return err
	}); err != nil {
		return err
	}
	apiserver := net.JoinHostPort(c.Inv.NodeIP(c.Inv.Host(host)), strconv.Itoa(c.Inv.ControlPlane.LoadBalancer.APIServerPort))
	for _, w := range []phase.Wait{
		{What: "the control-plane components on " + host + " running with the new certificates", Timeout: loadWait, Every: 2 * time.Second,
			Check: func(ctx context.Context) (bool, string, error) {
				hc, err := readHostCerts(ctx, c, host)
				if err != nil {
					return false, err.Error(), nil
				}
				ok, status := hc.loaded()
				return ok, status, nil
			}},
		{What: "the API server on " + host + " ready", Timeout: apiServerWait, Every: 2 * time.Second, Check: phase.Condition(kube.APIReady(apiserver, h.DialContext))},
		c.EtcdMemberHealthy(host, etcdWait),
	} {
		if err := s.Wait(ctx, host, w); err != nil {
			return err
		}
	}
	if !alone {
		if err := installer.SetAPIBackend(ctx, s, c, host, installer.BackendReady); err != nil {
			return err
		}
	}
	return s.Wait(ctx, host, c.APIThroughVIP(vipWait))
}
