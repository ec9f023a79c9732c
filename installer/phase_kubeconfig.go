package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/berthsh/berth/internal/phase"
)

// KubeconfigFile is the name of the admin kubeconfig in the cluster's state directory.
const KubeconfigFile = "kubeconfig"

// writeKubeconfig gives the user the cluster's admin kubeconfig (0600, server: the VIP) in the state directory.
type writeKubeconfig struct {
	phase.Base
	c *Cluster
}

// WriteKubeconfig returns the phase that writes the admin kubeconfig into the state directory when it differs from
// the control plane's: the install's last phase, and the certificate renewal's.
func WriteKubeconfig(c *Cluster) phase.Phase { return &writeKubeconfig{c: c} }

func (p *writeKubeconfig) Title() string   { return "Write the admin kubeconfig" }
func (p *writeKubeconfig) Name() string    { return "kubeconfig" }
func (p *writeKubeconfig) AlwaysRun() bool { return true }

func (p *writeKubeconfig) Run(ctx context.Context) error {
	path := filepath.Join(p.c.StateDir, KubeconfigFile)
	k, err := p.c.Kube(ctx)
	if errors.Is(err, errNoCluster) {
		if !p.IsDryRun() && !p.Recorded("init") {
			// A run of other phases only (berth install phase stage) before the cluster exists.
			p.Logf("", "no cluster yet (kubeadm init has not run): no kubeconfig to write")
			return nil
		}
		return p.Wet("", "write "+path+" (0600)", func() error { return err }) // planned in a dry run of a new cluster
	}
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, k.Kubeconfig()) {
		return nil
	}
	return p.Wet("", "write "+path+" (0600, server "+p.c.Inv.APIEndpoint()+")", func() error {
		if err := os.MkdirAll(p.c.StateDir, 0o700); err != nil {
			return err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, k.Kubeconfig(), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	})
}
