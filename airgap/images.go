package airgap

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// Images is the phase that loads the bundle's images into containerd's k8s.io namespace from the staged archive.
// Nothing is pulled: kubeadm and the kubelet run with imagePullPolicy Never.
type Images struct {
	phase.Base
	Content *Content

	todo map[string][]string // host -> refs missing or at another digest
}

// Title names the phase.
func (p *Images) Title() string { return "Load images into containerd" }

// Name is the phase's machine name.
func (p *Images) Name() string { return "images" }

// ContainerdImages returns ref -> digest of the images containerd holds in the k8s.io namespace (none before
// containerd runs).
func ContainerdImages(ctx context.Context, h remote.Host) (map[string]string, error) {
	out, err := h.Exec(ctx, "if command -v ctr >/dev/null && [ -S /run/containerd/containerd.sock ]; then ctr -n k8s.io images ls; fi")
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	lines := strings.Split(out, "\n")
	for _, line := range lines[min(1, len(lines)):] {
		f := strings.Fields(line)
		if len(f) >= 3 {
			have[f[0]] = f[2]
		}
	}
	return have, nil
}

// Prepare reads, on every node at once, which images containerd lacks or holds at another digest.
func (p *Images) Prepare(ctx context.Context) error {
	p.todo = map[string][]string{}
	var mu sync.Mutex
	return phase.ParallelEach(ctx, phase.DefaultConcurrency, p.Content.Nodes, func(n Node) string { return n.Name },
		func(ctx context.Context, n Node) error {
			if n.NoNode {
				return nil // no containerd there: it is no node
			}
			h, err := p.Content.Host(n.Name)
			if err != nil {
				return err
			}
			have, err := ContainerdImages(ctx, h)
			if err != nil {
				return err
			}
			var missing []string
			for _, im := range p.Content.SetFor(n).Images {
				for _, ref := range im.Refs {
					if have[ref] != im.Digest {
						missing = append(missing, ref)
					}
				}
			}
			if len(missing) > 0 {
				mu.Lock()
				p.todo[n.Name] = missing
				mu.Unlock()
			}
			return nil
		})
}

// ShouldRun reports whether any node lacks an image.
func (p *Images) ShouldRun() bool { return len(p.todo) > 0 }

// Run imports the node's image set on every node that lacks an image, from the blobs staged there, and checks
// each digest afterwards.
func (p *Images) Run(ctx context.Context) error {
	var hosts []string
	for _, n := range p.Content.NodeNames() {
		if len(p.todo[n]) > 0 {
			hosts = append(hosts, n)
		}
	}
	cache, err := p.Content.Cache(ctx)
	if err != nil {
		return err
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		h, err := p.Content.Host(host)
		if err != nil {
			return err
		}
		set := p.Content.SetFor(p.Content.node(host))
		return p.Wet(host, fmt.Sprintf("import %d images into containerd (%s)", len(p.todo[host]), strings.Join(shortRefs(p.todo[host]), ", ")), func() error {
			if _, err := h.Exec(ctx, ImportScript(cache.Indexes[set.Name].SHA256, set.Blobs())); err != nil {
				return err
			}
			have, err := ContainerdImages(ctx, h)
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

// ImportScript is the shell script that imports an image set into containerd's k8s.io namespace from the staged
// content: an OCI layout of links to the staged index and blobs (in a directory of its own, removed afterwards)
// streamed by tar into ctr. Nothing is copied on the host; containerd checks every blob's digest as it reads it.
func ImportScript(indexSHA256 string, blobs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
d=$(mktemp -d %[1]s/import.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir "$d/blobs" "$d/blobs/sha256"
printf '%%s' %[2]s > "$d/oci-layout"
ln -s %[3]s "$d/index.json"
cd %[4]s
for b in`, StageDir, remote.Quote(bundles.OCILayoutFile), remote.Quote(StagePath(indexSHA256)), remote.Quote(path.Join(StageDir, "sha256")))
	for _, d := range blobs {
		b.WriteString(" " + remote.Quote(strings.TrimPrefix(d, "sha256:")))
	}
	b.WriteString(`; do ln -s "$PWD/$b" "$d/blobs/sha256/$b"; done
tar -C "$d" -ch oci-layout index.json blobs | ctr -n k8s.io images import -
`)
	return b.String()
}

func shortRefs(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = RepoName(r)
	}
	return out
}
