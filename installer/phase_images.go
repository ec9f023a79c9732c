package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// importImages loads the bundle's images into containerd's k8s.io namespace from the staged archive. Nothing is
// pulled: kubeadm and the kubelet run with imagePullPolicy Never.
type importImages struct {
	phase.Base
	c *Cluster

	todo map[string][]string // host -> refs missing or at another digest
}

func (p *importImages) Title() string { return "Load images into containerd" }
func (p *importImages) Name() string  { return "images" }

// setFor returns the image set a host needs.
func (p *importImages) setFor(host string) imageSet {
	cp, node := imageSets(p.c.Bundle.Manifest)
	if p.c.Inv.Host(host).Has("control-plane") {
		return cp
	}
	return node
}

// containerdImages returns ref -> digest of the images containerd holds in the k8s.io namespace.
func containerdImages(ctx context.Context, e *remote.Executor) (map[string]string, error) {
	out, err := e.Exec(ctx, "if command -v ctr >/dev/null && [ -S /run/containerd/containerd.sock ]; then ctr -n k8s.io images ls; fi")
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 {
			have[f[0]] = f[2]
		}
	}
	return have, nil
}

func (p *importImages) Prepare(ctx context.Context) error {
	p.todo = map[string][]string{}
	for _, host := range names(p.c.Inv.Nodes()) {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		have, err := containerdImages(ctx, e)
		if err != nil {
			return err
		}
		for _, im := range p.setFor(host).Images {
			for _, ref := range im.Refs {
				if have[ref] != im.Digest {
					p.todo[host] = append(p.todo[host], ref)
				}
			}
		}
	}
	return nil
}

func (p *importImages) ShouldRun() bool { return len(p.todo) > 0 }

func (p *importImages) Run(ctx context.Context) error {
	var hosts []string
	for _, h := range names(p.c.Inv.Nodes()) {
		if len(p.todo[h]) > 0 {
			hosts = append(hosts, h)
		}
	}
	cache, err := p.c.prepareCache(ctx)
	if err != nil {
		return err
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		set := p.setFor(host)
		file := archivePath(set.Name, cache.Archives[set.Name])
		return p.Wet(host, fmt.Sprintf("import %d images into containerd (%s)", len(p.todo[host]), strings.Join(shortRefs(p.todo[host]), ", ")), func() error {
			if _, err := e.Exec(ctx, "ctr -n k8s.io images import "+remote.Quote(file)); err != nil {
				return err
			}
			have, err := containerdImages(ctx, e)
			if err != nil {
				return err
			}
			for _, im := range set.Images {
				for _, ref := range im.Refs {
					if have[ref] != im.Digest {
						return fmt.Errorf("after import, containerd has %s at %q, want %s", ref, have[ref], im.Digest)
					}
				}
			}
			return nil
		})
	})
}

func shortRefs(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = repoName(r)
	}
	return out
}
