package installer

import (
	"context"
	"fmt"
	"path"
	"path/filepath"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// stagedFile is one file copied from the bundle to a host's stage directory.
type stagedFile struct {
	Local  string // on the machine running berth
	Remote string // on the host
	SHA256 string
	Size   int64
}

// stageBundle copies to every node what its roles need from the bundle: packages, kubeadm, kubelet, kubectl,
// CNI plugins, etcdctl and the control-plane images on control planes, the node images elsewhere. Copies are
// content-addressed: a file already on the host with the right sha256 is not sent again.
type stageBundle struct {
	phase.Base
	c *Cluster

	cache *localCache
	todo  map[string][]stagedFile // host -> files missing or different there
}

func (p *stageBundle) Title() string { return "Stage bundle on hosts" }
func (p *stageBundle) Name() string  { return "stage" }

// stagePath is where a bundle path lands on hosts.
func stagePath(bundlePath string) string { return path.Join(stageDir, bundlePath) }

// archivePath is where an image set's archive lands on hosts.
func archivePath(set string, a archive) string {
	return path.Join(stageDir, "images", fmt.Sprintf("%s-%s.tar", set, a.SHA256[:12]))
}

// filesFor lists what a host needs from the bundle.
func (p *stageBundle) filesFor(host string) []stagedFile {
	m := p.c.Bundle.Manifest
	h := p.c.Inv.Host(host)
	cp := h.Has("control-plane")
	var out []stagedFile
	add := func(f bundles.File) {
		out = append(out, stagedFile{Local: filepath.Join(p.cache.Dir, filepath.FromSlash(f.Path)), Remote: stagePath(f.Path), SHA256: f.SHA256, Size: f.Size})
	}
	for _, f := range filesOf(m, bundles.KindPackage, bundles.KindCNI) {
		add(f)
	}
	for _, f := range filesOf(m, bundles.KindBinary) {
		if path.Base(f.Path) == "etcdctl" && !cp {
			continue
		}
		add(f)
	}
	set := "node"
	if cp {
		set = "control-plane"
	}
	a := p.cache.Archives[set]
	out = append(out, stagedFile{Local: a.Path, Remote: archivePath(set, a), SHA256: a.SHA256, Size: a.Size})
	return out
}

func (p *stageBundle) Prepare(ctx context.Context) error {
	cache, err := p.c.prepareCache(ctx)
	if err != nil {
		return err
	}
	p.cache = cache
	p.todo = map[string][]stagedFile{}
	for _, host := range names(p.c.Inv.Nodes()) {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		files := p.filesFor(host)
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = f.Remote
		}
		have, err := remoteDigests(ctx, e, paths)
		if err != nil {
			return fmt.Errorf("read staged files on %s: %w", host, err)
		}
		for _, f := range files {
			if have[f.Remote] != f.SHA256 {
				p.todo[host] = append(p.todo[host], f)
			}
		}
	}
	return nil
}

func (p *stageBundle) ShouldRun() bool { return len(p.todo) > 0 }

func (p *stageBundle) Run(ctx context.Context) error {
	hosts := make([]string, 0, len(p.todo))
	for _, h := range names(p.c.Inv.Nodes()) {
		if len(p.todo[h]) > 0 {
			hosts = append(hosts, h)
		}
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		files := p.todo[host]
		var total int64
		for _, f := range files {
			total += f.Size
		}
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		return p.Wet(host, fmt.Sprintf("copy %d files (%s) from the bundle to %s", len(files), humanBytes(total), stageDir), func() error {
			if _, err := e.Exec(ctx, "mkdir -p "+remote.Quote(stageDir)+" && chmod 0700 /var/lib/berth"); err != nil {
				return err
			}
			batch := make([]remote.File, len(files))
			for i, f := range files {
				batch[i] = remote.File{Src: f.Local, Dst: f.Remote, Mode: 0o600, Digest: f.SHA256}
			}
			_, err := e.PutFiles(ctx, batch, func(sent, total int64) { p.Progress(host, "stage bundle", sent, total) })
			return err
		})
	})
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
