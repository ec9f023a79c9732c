package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/phase"
)

// certsHealthWait bounds each health check before a renewal.
const certsHealthWait = 2 * time.Minute

// certsCheck reads every control plane's certificates and checks that the cluster can take a rolling restart of
// its control plane: no certificate expired (berth renews through the API; a cluster whose certificates expired
// needs the manual recovery of docs/day2.md), every etcd member healthy and the API answering through the VIP. It
// changes nothing and runs on every run.
type certsCheck struct {
	phase.Base
	r *renewal
}

func (p *certsCheck) Title() string   { return "Check the certificates and the cluster's health" }
func (p *certsCheck) Name() string    { return "check" }
func (p *certsCheck) AlwaysRun() bool { return true }

func (p *certsCheck) Run(ctx context.Context) error {
	c := p.r.c
	certs, err := readCertificates(ctx, c)
	if err != nil {
		return err
	}
	p.r.before = certs
	var expired []string
	for _, h := range certs.Hosts {
		for _, cert := range h.Certificates {
			if cert.Residual == "expired" {
				expired = append(expired, fmt.Sprintf("%s on %s (expired %s)", cert.Name, h.Host, cert.NotAfter.UTC().Format(time.RFC3339)))
			}
		}
	}
	if len(expired) > 0 {
		return fmt.Errorf("certificates expired: %s.\n  berth renews certificates while the cluster still trusts them; "+
			"fix: recover by hand as docs/day2.md says (kubeadm certs renew all and a restart of the static pods on each control plane), "+
			"then watch the expiry with berth certs check-expiration --fail-within 30d", strings.Join(expired, ", "))
	}
	if host, soonest := certs.Soonest(); soonest != nil {
		p.Logf("", "the first certificate to expire: %s on %s, in %s (%s)", soonest.Name, host, soonest.Residual, soonest.NotAfter.UTC().Format(time.DateOnly))
	}
	if len(c.Inv.ControlPlanes()) == 1 {
		p.Warnf("", "%s is the only control plane: the API does not answer while its API server restarts (about half a minute)", c.First().Name)
	}
	for _, w := range []phase.Wait{c.EtcdHealthy(certsHealthWait), c.APIThroughVIP(certsHealthWait)} {
		if err := p.Wait(ctx, "", w); err != nil {
			return fmt.Errorf("%w\n  fix: the renewal restarts each control plane in turn and needs every etcd member healthy and the VIP answering first (berth status shows what is wrong)", err)
		}
	}
	return nil
}
