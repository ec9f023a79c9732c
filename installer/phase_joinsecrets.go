package installer

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/internal/phase"
)

// joinSecrets is what nodes need to join: a bootstrap token, the CA's hash and, for control planes, the key of
// the certificates uploaded to the cluster. Both expire after 2 hours: every run that joins makes new ones.
type joinSecrets struct {
	Token          string
	CAHash         string
	CertificateKey string
}

// prepareJoins creates fresh join secrets when any node still has to join. It runs on every run (never journaled):
// a resumed run needs secrets that have not expired.
type prepareJoins struct {
	phase.Base
	c *Cluster

	need bool
}

func (p *prepareJoins) Title() string   { return "Prepare joins (bootstrap token, certificate key)" }
func (p *prepareJoins) Name() string    { return "join-secrets" }
func (p *prepareJoins) AlwaysRun() bool { return true }

func (p *prepareJoins) Prepare(ctx context.Context) error {
	ms, err := p.c.membership(ctx)
	if err != nil {
		return err
	}
	if len(ms.Nodes) == 0 {
		// No cluster yet (a run of selected phases before the init phase, as `install phase registries` on new
		// hosts): nothing can join, and the init phase makes the secrets with the cluster.
		return nil
	}
	first := p.c.First().Name
	for _, h := range p.c.Inv.Nodes() {
		if h.Name != first && !p.c.joined(ms, h) {
			p.need = true
		}
	}
	return nil
}

func (p *prepareJoins) ShouldRun() bool { return p.need }

func (p *prepareJoins) Run(ctx context.Context) error {
	host := p.c.First().Name
	e, err := p.c.Host(host)
	if err != nil {
		return err
	}
	p.c.mu.Lock()
	have := p.c.join != nil
	p.c.mu.Unlock()
	if have { // made by kubeadm init in this run
		return nil
	}
	// Both secrets are made here and reach the host only inside kubeadm's configuration (0600, sent on the
	// input of the command, removed after use): never on a command line, where ps and sudo's log show them, and
	// never printed, where the host's journal would keep them.
	return p.Wet(host, "create a bootstrap token (2 hours) and upload the control-plane certificates under a new key", func() error {
		js := &joinSecrets{Token: newToken(), CertificateKey: newCertificateKey()}
		_, config, err := p.c.initConfig(host, js.Token, js.CertificateKey)
		if err != nil {
			return err
		}
		file := configDir + "/kubeadm-join-secrets.yaml"
		command := "kubeadm init phase bootstrap-token --config " + file + " --skip-token-print && " +
			"kubeadm init phase upload-certs --upload-certs --config " + file + " --skip-certificate-key-print; rc=$?; rm -f " + file + "; exit $rc"
		if err := runDetached(ctx, e, "kubeadm join secrets", command, detachedFile{Path: file, Content: config},
			[]string{js.Token, js.CertificateKey}); err != nil {
			return err
		}
		p.c.mu.Lock()
		p.c.join = js
		p.c.mu.Unlock()
		return nil
	})
}

// secrets returns the join secrets made by init or prepareJoins, with the hash of the cluster CA (read from the
// first control plane the first time it is asked).
func (c *Cluster) secrets(ctx context.Context) (*joinSecrets, error) {
	first := c.First().Name // reads the facts, under c.mu
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.join == nil {
		return nil, fmt.Errorf("no join secrets: run the join-secrets phase first (it runs by itself unless skipped)")
	}
	if c.join.CAHash == "" {
		h, err := c.Pool.Get(first)
		if err != nil {
			return nil, err
		}
		ca, err := h.ReadFile(ctx, "/etc/kubernetes/pki/ca.crt")
		if err != nil {
			return nil, fmt.Errorf("read the cluster CA: %w", err)
		}
		if c.join.CAHash, err = caCertHash(ca); err != nil {
			return nil, err
		}
	}
	return c.join, nil
}
