package installer

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// etcdClientPort is where every stacked etcd member serves clients, on its control-plane address.
const etcdClientPort = 2379

// etcdCerts are the etcd CA and the health-check client certificate kubeadm made, read from a control plane. The
// key stays in memory: berth never writes it on this machine.
type etcdCerts struct {
	CA, Cert, Key []byte
}

// EtcdEndpoint is the client URL of a control plane's etcd member.
func (c *Cluster) EtcdEndpoint(h *inventory.Host) string {
	return "https://" + net.JoinHostPort(c.Inv.NodeIP(h), strconv.Itoa(etcdClientPort))
}

// Etcd returns a client of the cluster's etcd, with an endpoint on each of the given control planes (every one when
// none is given), dialled through the control planes' SSH connections. Close it after use.
func (c *Cluster) Etcd(ctx context.Context, hosts ...string) (*kube.Etcd, error) {
	var endpoints []string
	for _, h := range c.Inv.ControlPlanes() {
		if len(hosts) == 0 || slices.Contains(hosts, h.Name) {
			endpoints = append(endpoints, c.EtcdEndpoint(h))
		}
	}
	return c.etcdAt(ctx, endpoints)
}

// etcdAt returns a client of the cluster's etcd with the given endpoints (client URLs), dialled through the
// control planes' SSH connections. Close it after use.
func (c *Cluster) etcdAt(ctx context.Context, endpoints []string) (*kube.Etcd, error) {
	c.mu.Lock()
	certs := c.etcdCerts
	c.mu.Unlock()
	if certs == nil {
		h, err := c.Host(c.First().Name)
		if err != nil {
			return nil, err
		}
		certs = &etcdCerts{}
		for _, f := range []struct {
			dst  *[]byte
			path string
		}{{&certs.CA, etcdPKI + "/ca.crt"}, {&certs.Cert, etcdPKI + "/healthcheck-client.crt"}, {&certs.Key, etcdPKI + "/healthcheck-client.key"}} {
			if *f.dst, err = h.ReadFile(ctx, f.path); err != nil {
				return nil, fmt.Errorf("read etcd's client certificate on %s: %w", c.First().Name, err)
			}
		}
		c.mu.Lock()
		c.etcdCerts = certs
		c.mu.Unlock()
	}
	dial := c.tunnel(c.First().Name).Dial
	if k, err := c.Kube(ctx); err == nil {
		dial = k.DialContext // fails over between control planes
	}
	return kube.NewEtcd(kube.EtcdOptions{Endpoints: endpoints, CA: certs.CA, Cert: certs.Cert, Key: certs.Key, Dial: dial, Logger: c.Log})
}

// etcdMembers lists the members of the cluster's etcd.
func (c *Cluster) etcdMembers(ctx context.Context) ([]kube.Member, error) {
	e, err := c.Etcd(ctx)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	ms, err := e.Members(ctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	return ms, nil
}

// EtcdMemberHealthy is the wait for the etcd member on a control plane to answer as healthy.
func (c *Cluster) EtcdMemberHealthy(host string, timeout time.Duration) phase.Wait {
	return phase.Wait{What: "the etcd member on " + host + " healthy", Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			e, err := c.Etcd(ctx, host)
			if err != nil {
				return false, err.Error(), nil
			}
			defer e.Close()
			for _, mh := range e.Health(ctx) {
				if !mh.Healthy {
					return false, fmt.Sprintf("etcd on %s not healthy yet: %v", host, mh.Err), nil
				}
			}
			return true, "etcd on " + host + " healthy", nil
		}}
}

// EtcdHealthy is the wait for every etcd member to be started and healthy with one leader and a quorum.
func (c *Cluster) EtcdHealthy(timeout time.Duration) phase.Wait {
	return phase.Wait{What: "every etcd member healthy", Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			e, err := c.Etcd(ctx)
			if err != nil {
				return false, err.Error(), nil
			}
			defer e.Close()
			return e.Healthy()(ctx)
		}}
}

// HandOffEtcdLeader moves etcd's leadership away from a control plane's member before something restarts or
// removes it: an election after the leader stops leaves the cluster without one for an election timeout, a hand-off
// only for a moment (requests in flight at that moment can still fail with "leader changed", so callers move the
// leadership as seldom as they can: see EtcdLeader). Leadership goes to the first healthy member of the control
// planes in prefer, else to any healthy one. Nothing changes when the member does not lead.
func (c *Cluster) HandOffEtcdLeader(ctx context.Context, s *phase.Session, host string, prefer ...string) error {
	e, err := c.Etcd(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	var eps []string
	for _, p := range prefer {
		if h := c.Inv.Host(p); h != nil {
			eps = append(eps, c.EtcdEndpoint(h))
		}
	}
	return handOff(ctx, s, e, host, c.EtcdEndpoint(c.Inv.Host(host)), eps...)
}

// EtcdLeader returns the control plane whose etcd member leads ("" when none is known), so that a roll-out can take
// it last and move the leadership once.
func (c *Cluster) EtcdLeader(ctx context.Context) (string, error) {
	e, err := c.Etcd(ctx)
	if err != nil {
		return "", err
	}
	defer e.Close()
	for _, mh := range e.Health(ctx) {
		if !mh.Leader {
			continue
		}
		for _, h := range c.Inv.ControlPlanes() {
			if c.EtcdEndpoint(h) == mh.Endpoint {
				return h.Name, nil
			}
		}
	}
	return "", nil
}

// handOff moves the leadership from the member behind endpoint, when it leads, to another healthy member.
func handOff(ctx context.Context, s *phase.Session, e *kube.Etcd, host, endpoint string, prefer ...string) error {
	leads := false
	for _, h := range e.Health(ctx) {
		leads = leads || (h.Endpoint == endpoint && h.Leader)
	}
	if !leads {
		return nil
	}
	return s.Wet(host, "hand etcd's leadership from "+host+"'s member to another healthy member", func() error {
		to, err := e.HandOffLeader(ctx, endpoint, prefer...)
		if err == nil && to != "" {
			s.Logf(host, "etcd member %s leads now", to)
		}
		return err
	})
}
