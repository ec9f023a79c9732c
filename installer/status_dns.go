package installer

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/dnsprobe"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// dnsStatus checks cluster DNS host by host, the way its clients use it: for every DNS host, dnsmasq on the
// host's control-plane address, port 53 (asked from another node, as pods elsewhere ask it) and whether the
// kube-dns Service counts the host as a ready endpoint; the backend on the host's loopback, port 10053 (asked on
// the host); and finally the kube-dns Service's address. Every question is kubernetes.default.svc.<domain>, over
// TCP through SSH, and must be answered with the kubernetes Service's address.
func dnsStatus(ctx context.Context, c *Cluster) []EndpointStatus {
	inv := c.Inv
	t, err := newDNSTargets(inv)
	if err != nil {
		return []EndpointStatus{{Detail: err.Error()}}
	}
	var ready []string
	var readyErr error
	if k, err := c.Kube(ctx); err != nil {
		readyErr = err
	} else {
		ready, readyErr = readyDNSEndpoints(ctx, k)
	}
	via := reachableHost(ctx, c, inv.ControlPlanes())
	where := "in the DNS pod"
	if inv.DNS.Variant == manifests.DNSUser {
		where = "the host's " + dnsmasqUnit
	}
	hosts := inv.DNSHosts()
	out := make([]EndpointStatus, 2*len(hosts)+1)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			front := EndpointStatus{Host: h.Name, Address: dnsEndpoint(inv, h)}
			a, err := askVia(ctx, t, via, front.Address)
			switch {
			case err != nil:
				front.Detail = fmt.Sprintf("dnsmasq (%s): %v", where, err)
			case readyErr != nil:
				front.Detail = fmt.Sprintf("dnsmasq (%s): %s; endpoints unknown: %v", where, answerDetail(a), readyErr)
			case !slices.Contains(ready, h.Name):
				front.Detail = fmt.Sprintf("dnsmasq (%s): %s, but the kube-dns Service does not count it ready", where, answerDetail(a))
			default:
				front.Healthy = true
				front.Detail = fmt.Sprintf("dnsmasq (%s): %s; kube-dns endpoint ready", where, answerDetail(a))
			}
			back := EndpointStatus{Host: h.Name, Address: dnsBackendEndpoint}
			e, err := c.Host(h.Name)
			if err == nil {
				a, err = t.askThrough(ctx, e, dnsBackendEndpoint)
			}
			if err != nil {
				back.Detail = "backend (CoreDNS): " + err.Error()
			} else {
				back.Healthy, back.Detail = true, "backend (CoreDNS): "+answerDetail(a)
			}
			out[2*i], out[2*i+1] = front, back
		}()
	}
	svc := EndpointStatus{Host: manifests.DNSService + " Service", Address: net.JoinHostPort(t.ServiceIP.String(), "53")}
	if a, err := askVia(ctx, t, via, svc.Address); err != nil {
		svc.Detail = err.Error()
	} else {
		svc.Healthy = true
		svc.Detail = fmt.Sprintf("%s; %d of %d DNS hosts ready", answerDetail(a), len(ready), len(hosts))
	}
	wg.Wait()
	out[len(out)-1] = svc
	return out
}

// askVia asks server through via's SSH connection; via nil means no control plane answered over SSH.
func askVia(ctx context.Context, t dnsTargets, via remote.Host, server string) (dnsprobe.Answer, error) {
	if via == nil {
		return dnsprobe.Answer{}, fmt.Errorf("no control plane answers over SSH to ask %s from", server)
	}
	return t.askThrough(ctx, via, server)
}

func answerDetail(a dnsprobe.Answer) string {
	return fmt.Sprintf("%s in %s", a, a.RTT.Round(10*time.Microsecond))
}

// reachableHost returns the executor of the first host that answers over SSH within a few seconds.
func reachableHost(ctx context.Context, c *Cluster, hosts []*inventory.Host) remote.Host {
	for _, h := range hosts {
		e, err := c.Host(h.Name)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = e.Connect(cctx)
		cancel()
		if err == nil {
			return e
		}
	}
	return nil
}
