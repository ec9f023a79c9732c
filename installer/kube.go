package installer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// errNoCluster means no control plane has been initialised yet (a dry run of a fresh install gets this).
var errNoCluster = errors.New("the cluster does not exist yet")

// Kube returns a client of the cluster's API. It reads the admin kubeconfig from the first control plane that has
// one, and reaches the API through SSH tunnels to the control planes, failing over from one to the next, so the
// machine running berth never needs a route to the control plane's network.
func (c *Cluster) Kube(ctx context.Context) (*kube.Client, error) {
	c.mu.Lock()
	k := c.kube
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	var errs []error
	for _, h := range c.Inv.ControlPlanes() {
		if !c.State(h.Name).Has("admin") {
			continue
		}
		e, err := c.Host(h.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conf, err := e.ReadFile(ctx, adminConf)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// A tunnel over a live SSH connection opens in milliseconds; one over a host that just went away hangs until
		// the dial gives up, so that is kept short.
		k, err := kube.New(kube.Options{Kubeconfig: conf, Tunnels: c.tunnels(h), Logger: c.Log, DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.kube = k
		c.mu.Unlock()
		return k, nil
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reach the cluster's API: %w", errors.Join(errs...))
	}
	return nil, errNoCluster
}

// ForgetKube drops the API client, so that the next Kube reads the admin kubeconfig again: after its certificate
// was renewed, say.
func (c *Cluster) ForgetKube() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kube = nil
}

// tunnels lists every control plane as a way to the API, the given one first.
func (c *Cluster) tunnels(first *inventory.Host) []kube.Tunnel {
	out := []kube.Tunnel{c.tunnel(first.Name)}
	for _, h := range c.Inv.ControlPlanes() {
		if h.Name != first.Name {
			out = append(out, c.tunnel(h.Name))
		}
	}
	return out
}

func (c *Cluster) tunnel(host string) kube.Tunnel {
	return kube.Tunnel{Host: host, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, err := c.Host(host)
		if err != nil {
			return nil, err
		}
		return h.DialContext(ctx, network, addr)
	}}
}

// diffObjects tells, for each object, whether applying it would change the cluster (all of them, before the
// cluster exists).
func (c *Cluster) diffObjects(ctx context.Context, objs []*unstructured.Unstructured) ([]kube.ApplyResult, error) {
	k, err := c.Kube(ctx)
	if errors.Is(err, errNoCluster) {
		out := make([]kube.ApplyResult, len(objs))
		for i, o := range objs {
			out[i] = kube.ApplyResult{Object: kube.Describe(o), Created: true, Changed: true}
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	return k.DiffAll(ctx, objs)
}

// anyChanged reports whether applying would change anything.
func anyChanged(rs []kube.ApplyResult) bool {
	for _, r := range rs {
		if r.Changed {
			return true
		}
	}
	return false
}

// applyChanged applies the objects whose diff showed a change, through the gate, describing them.
func (c *Cluster) applyChanged(ctx context.Context, s *phase.Session, what string, objs []*unstructured.Unstructured, changes []kube.ApplyResult) error {
	var parts []string
	var todo []*unstructured.Unstructured
	for i, r := range changes {
		if r.Changed {
			verb := "update"
			if r.Created {
				verb = "create"
			}
			parts = append(parts, verb+" "+r.Object)
			todo = append(todo, objs[i])
		}
	}
	return s.Wet("", what+": "+strings.Join(parts, ", "), func() error {
		k, err := c.Kube(ctx)
		if err != nil {
			return err
		}
		return k.ApplyAll(ctx, todo)
	})
}

// addOn is the shared part of the phases that apply an add-on's manifests from the bundle: Prepare renders them and
// reads what differs from the cluster (dry runs too), Run applies exactly that.
type addOn struct {
	phase.Base
	c    *Cluster
	what string // the change as the plan names it

	objs    []*unstructured.Unstructured
	changes []kube.ApplyResult
}

// diff reads rendered manifests and what of them differs from the cluster.
func (a *addOn) diff(ctx context.Context, manifests []byte) (err error) {
	if a.objs, err = kube.Objects(manifests); err != nil {
		return err
	}
	a.changes, err = a.c.diffObjects(ctx, a.objs)
	return err
}

func (a *addOn) ShouldRun() bool { return anyChanged(a.changes) }

func (a *addOn) Run(ctx context.Context) error {
	return a.c.applyChanged(ctx, a.Session, a.what, a.objs, a.changes)
}
