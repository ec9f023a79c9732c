package installer

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/manifests"
)

// setupRuntime puts the Kubernetes binaries and CNI plugins in place, configures containerd from the host's facts
// (cgroup driver, sandbox image, OOM-score restriction only where the host lacks CAP_SYS_RESOURCE) and installs
// the kubelet's systemd unit. The kubelet itself is started by kubeadm.
type setupRuntime struct {
	phase.Base
	c *Cluster
}

func (p *setupRuntime) Title() string { return "Set up the container runtime" }
func (p *setupRuntime) Name() string  { return "runtime" }

// installedBinary is a bundle file and where it runs from on the host.
type installedBinary struct {
	From   string // staged path
	To     string
	SHA256 string
}

// binaries lists a bundle's binaries and CNI plugins a host runs, where they are staged and where they go.
func (c *Cluster) binaries(b *bundles.Bundle, host string) []installedBinary {
	m := b.Manifest
	cp := c.Inv.Host(host).Has("control-plane")
	var out []installedBinary
	for _, f := range airgap.FilesOf(m, bundles.KindBinary) {
		name := path.Base(f.Path)
		if name == "etcdctl" && !cp {
			continue
		}
		out = append(out, installedBinary{From: airgap.StagePath(f.SHA256), To: path.Join(binDir, name), SHA256: f.SHA256})
	}
	for _, f := range airgap.FilesOf(m, bundles.KindCNI) {
		out = append(out, installedBinary{From: airgap.StagePath(f.SHA256), To: path.Join(cniBinDir, path.Base(f.Path)), SHA256: f.SHA256})
	}
	return out
}

func (p *setupRuntime) Run(ctx context.Context) error {
	pause, err := airgap.ImageRef(p.c.Bundle.Manifest, "pause")
	if err != nil {
		return err
	}
	unit, dropIn, err := manifests.KubeletUnit(binDir)
	if err != nil {
		return err
	}
	cniConf, err := manifests.CNIConf()
	if err != nil {
		return err
	}
	return p.Each(ctx, names(p.c.Inv.Nodes()), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		if _, err := p.c.InstallBinaries(ctx, p.Session, p.c.Bundle, host); err != nil {
			return err
		}
		facts, err := p.c.OSFacts(host)
		if err != nil {
			return err
		}
		driver := facts.CgroupDriver()
		config, err := manifests.ContainerdConfig(manifests.Containerd{SandboxImage: pause, SystemdCgroup: driver == "systemd",
			RestrictOOMScoreAdj: !p.c.State(host).CapSysRes})
		if err != nil {
			return err
		}
		changed, err := airgap.EnsureFiles(ctx, p.Session, host, e, []airgap.File{
			{Path: containerdConfig, Content: config},
			{Path: kubeletUnitFile, Content: unit},
			{Path: kubeletDropInFile, Content: dropIn},
			{Path: manifests.CNIConfPath, Content: cniConf},
		})
		if err != nil {
			return err
		}
		return p.services(ctx, host, e, changed)
	})
}

// InstallBinaries copies a bundle's staged binaries (only the named ones, when names are given) into place on a
// host where the installed ones differ, through the session's gate, and returns the names it installed (or would).
func (c *Cluster) InstallBinaries(ctx context.Context, s *phase.Session, b *bundles.Bundle, host string, names ...string) ([]string, error) {
	e, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	var bins []installedBinary
	for _, bin := range c.binaries(b, host) {
		if len(names) == 0 || slices.Contains(names, path.Base(bin.To)) {
			bins = append(bins, bin)
		}
	}
	targets := make([]string, len(bins))
	for i, b := range bins {
		targets[i] = b.To
	}
	have, err := airgap.Digests(ctx, e, targets)
	if err != nil {
		return nil, err
	}
	var script strings.Builder
	var todo []string
	for _, b := range bins {
		if have[b.To] == b.SHA256 {
			continue
		}
		fmt.Fprintf(&script, "install -D -m 0755 %s %s\n", remote.Quote(b.From), remote.Quote(b.To))
		todo = append(todo, path.Base(b.To))
	}
	if len(todo) == 0 {
		return nil, nil
	}
	return todo, s.Wet(host, "install "+strings.Join(todo, ", "), func() error {
		_, err := e.Exec(ctx, "set -e\n"+script.String())
		return err
	})
}

// services reloads and restarts what changed, and makes sure containerd runs and the kubelet is enabled.
// Enabling does not reload systemd (remote.EnableUnits): the one reload the kubelet's unit files need is done
// here, when they changed or the kubelet is not enabled yet. The kubelet is enabled only after that reload, so an
// enabled kubelet means systemd has read its files even if an earlier run stopped between writing and reloading.
func (p *setupRuntime) services(ctx context.Context, host string, e remote.Host, changed []string) error {
	state, err := e.Exec(ctx, "echo $(systemctl is-active containerd) $("+remote.UnitFileState("containerd")+") $("+
		remote.UnitFileState("kubelet")+")")
	if err != nil {
		state = ""
	}
	f := strings.Fields(state + " x x x")
	if slices.Contains(changed, kubeletUnitFile) || slices.Contains(changed, kubeletDropInFile) || f[2] != "enabled" {
		if err := p.Wet(host, "systemctl daemon-reload", func() error {
			_, err := e.Exec(ctx, "systemctl daemon-reload")
			return err
		}); err != nil {
			return err
		}
	}
	restart := slices.Contains(changed, containerdConfig) || f[0] != "active" || f[1] != "enabled"
	var enable []string
	for i, unit := range []string{"containerd", "kubelet"} {
		if f[i+1] != "enabled" {
			enable = append(enable, unit)
		}
	}
	if len(enable) > 0 {
		if err := p.Wet(host, "enable "+strings.Join(enable, " and "), func() error {
			_, err := e.Exec(ctx, remote.EnableUnits(enable...))
			return err
		}); err != nil {
			return err
		}
	}
	if !restart {
		return nil
	}
	return p.Wet(host, "(re)start containerd", func() error {
		_, err := e.Exec(ctx, "systemctl restart containerd && "+
			"for i in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; "+
			"echo 'containerd did not come up' >&2; journalctl -u containerd -n 20 --no-pager >&2; exit 1")
		return err
	})
}
