package installer

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/manifests"
)

// initCluster runs kubeadm init on the first control plane: certificates, stacked etcd and the control-plane
// components on its control-plane NIC, with the VIP as the cluster's endpoint.
type initCluster struct {
	phase.Base
	c *Cluster
}

func (p *initCluster) Title() string { return "Initialise the first control plane (kubeadm init)" }
func (p *initCluster) Name() string  { return "init" }

func (p *initCluster) ShouldRun() bool { return !p.c.State(p.c.First().Name).Has("admin") }

// writeControlPlanePatches puts the kubeadm patches of a control plane for the Kubernetes version its static pods
// are to run (manifests.ControlPlanePatches): its API server bound to its control-plane address, and berth's UIDs
// of its static pods.
func writeControlPlanePatches(ctx context.Context, s *phase.Session, c *Cluster, host string, e remote.Host, version string) error {
	patches, err := manifests.ControlPlanePatches(c.Inv.NodeIP(c.Inv.Host(host)), host, version)
	if err != nil {
		return err
	}
	files := make([]airgap.File, len(patches))
	for i, p := range patches {
		files[i] = airgap.File{Path: manifests.PatchesDir + "/" + p.Name, Content: p.Content}
	}
	_, err = airgap.EnsureFiles(ctx, s, host, e, files)
	return err
}

// WriteControlPlanePatches is writeControlPlanePatches for the upgrade, which gives a control plane the patches of
// the version it moves to before kubeadm upgrades its static pods.
func WriteControlPlanePatches(ctx context.Context, s *phase.Session, c *Cluster, host, version string) error {
	e, err := c.Host(host)
	if err != nil {
		return err
	}
	return writeControlPlanePatches(ctx, s, c, host, e, version)
}

func (p *initCluster) Run(ctx context.Context) error {
	first := p.c.First()
	host := first.Name
	e, err := p.c.Host(host)
	if err != nil {
		return err
	}
	return p.Each(ctx, []string{host}, func(ctx context.Context, host string) error {
		st := p.c.State(host)
		if st.Has("apiserver") || st.Has("etcd") || st.Has("kubelet-conf") || st.Has("pki") {
			if err := p.Wet(host, "reset the unfinished kubeadm init of an earlier run (kubeadm reset -f)", func() error {
				if err := waitDetached(ctx, e); err != nil {
					return err
				}
				_, err := e.Exec(ctx, "kubeadm reset -f --cri-socket "+manifests.CRISocket)
				return err
			}); err != nil {
				return err
			}
		}
		if err := writeControlPlanePatches(ctx, p.Session, p.c, host, e, p.c.Bundle.Manifest.KubernetesVersion); err != nil {
			return err
		}
		token, key := newToken(), newCertificateKey()
		cc, config, err := p.c.initConfig(host, token, key)
		if err != nil {
			return err
		}
		// kubeadm prints the join command with both secrets, and the key on its own, unless told not to; its
		// output goes to the host's journal, which the adm group and log shipping read.
		file := configDir + "/kubeadm-init.yaml"
		return p.Wet(host, fmt.Sprintf("kubeadm init: Kubernetes %s, endpoint %s, etcd and API server on %s", cc.KubernetesVersion,
			cc.ControlPlaneEndpoint, p.c.Inv.NodeIP(first)), func() error {
			if err := runDetached(ctx, e, "kubeadm init",
				"kubeadm init --config "+file+" --upload-certs --skip-token-print --skip-certificate-key-print; rc=$?; rm -f "+file+"; exit $rc",
				detachedFile{Path: file, Content: config}, []string{token, key}); err != nil {
				return err
			}
			p.c.mu.Lock()
			p.c.join = &joinSecrets{Token: token, CertificateKey: key}
			p.c.mu.Unlock()
			return p.c.refresh(ctx, host)
		})
	})
}

// initConfig renders kubeadm's init configuration for a control plane, holding the given bootstrap token and
// certificate key: it is secret, written 0600 and removed after use.
func (c *Cluster) initConfig(host, token, key string) (manifests.Cluster, []byte, error) {
	facts, err := c.OSFacts(host)
	if err != nil {
		return manifests.Cluster{}, nil, err
	}
	cc, err := c.clusterConfig(facts.CgroupDriver())
	if err != nil {
		return manifests.Cluster{}, nil, err
	}
	config, err := manifests.KubeadmInit(cc, c.nodeConfig(c.Inv.Host(host)), token, key)
	return cc, config, err
}
