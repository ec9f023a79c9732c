package airgap

import (
	"context"
	"fmt"
	"path"
	"sync"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// Stage is the phase that copies to every node what its roles need from the bundle. Copies are content-addressed:
// a file already on the host with the right sha256 is not sent again, so a re-run sends nothing.
type Stage struct {
	phase.Base
	Content *Content

	todo map[string][]Staged // host -> files missing or different there
}

// Title names the phase.
func (p *Stage) Title() string { return "Stage bundle on hosts" }

// Name is the phase's machine name.
func (p *Stage) Name() string { return "stage" }

// Prepare extracts the bundle locally and reads, on every node at once, which of its files are missing.
func (p *Stage) Prepare(ctx context.Context) error {
	cache, err := p.Content.Cache(ctx)
	if err != nil {
		return err
	}
	p.todo = map[string][]Staged{}
	var mu sync.Mutex
	return phase.ParallelEach(ctx, phase.DefaultConcurrency, p.Content.Nodes, func(n Node) string { return n.Name },
		func(ctx context.Context, n Node) error {
			h, err := p.Content.Host(n.Name)
			if err != nil {
				return err
			}
			files := p.Content.FilesFor(cache, n)
			paths := make([]string, len(files))
			for i, f := range files {
				paths[i] = f.Remote
			}
			have, err := Digests(ctx, h, paths)
			if err != nil {
				return fmt.Errorf("read staged files: %w", err)
			}
			var missing []Staged
			for _, f := range files {
				if have[f.Remote] != f.SHA256 {
					missing = append(missing, f)
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

// ShouldRun reports whether any node lacks a file.
func (p *Stage) ShouldRun() bool { return len(p.todo) > 0 }

// Run sends every node its missing files in one checked batch.
func (p *Stage) Run(ctx context.Context) error {
	var hosts []string
	for _, n := range p.Content.NodeNames() {
		if len(p.todo[n]) > 0 {
			hosts = append(hosts, n)
		}
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		files := p.todo[host]
		var total int64
		for _, f := range files {
			total += f.Size
		}
		h, err := p.Content.Host(host)
		if err != nil {
			return err
		}
		return p.Wet(host, fmt.Sprintf("copy %d files (%s) from the bundle to %s", len(files), HumanBytes(total), StageDir), func() error {
			if _, err := h.Exec(ctx, "mkdir -p "+remote.Quote(path.Join(StageDir, "sha256"))+" && chmod 0700 /var/lib/berth"); err != nil {
				return err
			}
			batch := make([]remote.File, len(files))
			for i, f := range files {
				batch[i] = remote.File{Src: f.Local, Dst: f.Remote, Mode: 0o600, Digest: f.SHA256}
			}
			_, err := h.PutFiles(ctx, batch, func(sent, total int64) { p.Progress(host, "stage bundle", sent, total) })
			return err
		})
	})
}
