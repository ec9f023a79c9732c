package airgap

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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

// Prepare extracts the bundle locally and reads, on every node at once, which of its files are missing. A node
// that lacks a file this machine does not hold either (a patch bundle opened without its base, on a node that
// never staged the base) stops the phase here, before any node is sent anything: a *LackingError.
func (p *Stage) Prepare(ctx context.Context) error {
	cache, err := p.Content.Cache(ctx)
	if err != nil {
		return err
	}
	p.todo = map[string][]Staged{}
	lack := &LackingError{Bundle: p.Content.Bundle, Hosts: map[string][]Staged{}}
	var mu sync.Mutex
	err = phase.ParallelEach(ctx, phase.DefaultConcurrency, p.Content.Nodes, func(n Node) string { return n.Name },
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
			mu.Lock()
			defer mu.Unlock()
			if len(missing) > 0 {
				p.todo[n.Name] = missing
			}
			lack.add(n.Name, missing, nil)
			return nil
		})
	if err != nil {
		return err
	}
	// Content neither here nor on a node (a patch opened without its base): refused before anything is sent.
	return lack.orNil()
}

// ShouldRun reports whether any node lacks a file.
func (p *Stage) ShouldRun() bool { return len(p.todo) > 0 }

// Run sends every node its missing files, each in one checked batch: from this machine, or, with relays, the first
// node from here and the others from nodes that already hold what they lack (see Relays).
func (p *Stage) Run(ctx context.Context) error {
	var hosts []string
	for _, n := range p.Content.NodeNames() {
		if len(p.todo[n]) > 0 {
			hosts = append(hosts, n)
		}
	}
	var todo []string
	for _, h := range hosts {
		if !p.HostDone(h) {
			todo = append(todo, h)
		}
	}
	if p.Content.Relays == nil || len(todo) < 2 || p.IsDryRun() {
		return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
			_, err := p.direct(ctx, host, p.todo[host], nil)
			return err
		})
	}
	rr, err := newRelayRun(p.Content.Relays, p.Content.Host)
	if err != nil {
		return err
	}
	defer rr.cleanup()
	// Keys an earlier run left (it was killed before its cleanup) go first.
	clearRelays(ctx, p.Content.Host, todo)
	results := make(map[string]chan func() error, len(todo))
	for _, h := range todo {
		results[h] = make(chan func() error, 1)
	}
	var uplink, relayed atomic.Int64
	go p.fanOut(ctx, rr, todo, results, &uplink, &relayed)
	// Each node's slot waits for its outcome, or for the word to send it its content from here itself (so that
	// sends from here keep to the run's concurrency).
	err = p.Each(ctx, hosts, func(ctx context.Context, host string) error { return (<-results[host])() })
	p.Logf("", "staged %s: %s sent from this machine, %s relayed between hosts", HumanBytes(uplink.Load()+relayed.Load()),
		HumanBytes(uplink.Load()), HumanBytes(relayed.Load()))
	return err
}

// direct sends a node files from this machine and returns the bytes sent; onSent, if set, hears how many so far.
func (p *Stage) direct(ctx context.Context, host string, files []Staged, onSent func(int64)) (int64, error) {
	var total, sent int64
	for _, f := range files {
		total += f.Size
	}
	h, err := p.Content.Host(host)
	if err != nil {
		return 0, err
	}
	err = p.Wet(host, fmt.Sprintf("copy %d files (%s) from the bundle to %s", len(files), HumanBytes(total), StageDir), func() error {
		if _, err := h.Exec(ctx, "mkdir -p "+remote.Quote(path.Join(StageDir, "sha256"))+" && chmod 0700 /var/lib/berth"); err != nil {
			return err
		}
		batch := make([]remote.File, len(files))
		for i, f := range files {
			batch[i] = remote.File{Src: f.Local, Dst: f.Remote, Mode: 0o600, Digest: f.SHA256}
		}
		res, err := h.PutFiles(ctx, batch, func(done, total int64) {
			p.Progress(host, "stage bundle", done, total)
			if onSent != nil {
				onSent(done)
			}
		})
		for _, r := range res {
			sent += r.Sent
		}
		return err
	})
	return sent, err
}

// fanOut stages the nodes in todo: the one with the most to receive from this machine, then each node from one
// that holds most of what it lacks (by bytes; the rest, such as the index of another image set, comes from here),
// as soon as such a holder is free. A failed relay is reported and its node sent its files from here; its sender
// is not asked again. Each node's outcome goes to its channel in results.
func (p *Stage) fanOut(ctx context.Context, rr *relayRun, todo []string, results map[string]chan func() error, uplink, relayed *atomic.Int64) {
	done := func(host string, err error) { results[host] <- func() error { return err } }
	cache, err := p.Content.Cache(ctx)
	if err != nil {
		for _, h := range todo {
			done(h, err)
		}
		return
	}
	size := func(h string) (n int64) {
		for _, f := range p.todo[h] {
			n += f.Size
		}
		return n
	}
	pending := slices.Clone(todo)
	slices.SortStableFunc(pending, func(a, b string) int { return cmp.Compare(size(b), size(a)) })
	holds := map[string]map[string]bool{} // a node that holds its content: the sha256 of each file it holds
	type outcome struct {
		src, dst string
		n        int64
		err      error
	}
	out := make(chan outcome)
	running := 0
	direct := func(dst string) {
		running++
		go func() {
			n, err := p.direct(ctx, dst, p.todo[dst], nil)
			out <- outcome{dst: dst, n: n, err: err}
		}()
	}
	// covered splits what dst lacks into what src holds and the rest, and says whether src holds most of it.
	covered := func(src, dst string) (from, rest []Staged, ok bool) {
		var have int64
		for _, f := range p.todo[dst] {
			if holds[src][f.SHA256] {
				from = append(from, f)
				have += f.Size
			} else {
				rest = append(rest, f)
			}
		}
		return from, rest, len(from) > 0 && 2*have >= size(dst)
	}
	// The first node's transfer measures the link from here. Relays are worth it when the link is slow (under
	// Relays.Below) and sending every other node its content over it would take longer than the rounds of relays
	// (each round doubles the senders) at the rate assumed between hosts; else the others are sent theirs from here
	// at once, as without relays.
	seed := pending[0]
	pending = pending[1:]
	rateOf := make(chan float64, 1)
	var measured sync.Once
	start := time.Now()
	measure := func(sent int64) {
		measured.Do(func() { rateOf <- float64(sent) / max(time.Since(start).Seconds(), 1e-3) })
	}
	running++
	go func() {
		n, err := p.direct(ctx, seed, p.todo[seed], func(sent int64) {
			if sent >= relayProbe {
				measure(sent)
			}
		})
		measure(n)
		out <- outcome{dst: seed, n: n, err: err}
	}()
	uplinkRate := <-rateOf
	var rest, largest int64
	for _, h := range pending {
		rest += size(h)
		largest = max(largest, size(h))
	}
	relayRate := float64(p.Content.Relays.Rate)
	if relayRate <= 0 {
		relayRate = DefaultRelayRate
	}
	below := float64(p.Content.Relays.Below)
	if below <= 0 {
		below = DefaultRelayBelow
	}
	byUplink := float64(rest) / max(uplinkRate, 1)
	byRelays := float64(bits.Len(uint(len(pending)))) * float64(largest) / relayRate
	if uplinkRate >= below || byUplink <= byRelays {
		p.Logf("", "the link from here carries %s/s: the other %d nodes are sent their content from here", HumanBytes(int64(uplinkRate)), len(pending))
		for _, dst := range pending {
			results[dst] <- func() error {
				n, err := p.direct(ctx, dst, p.todo[dst], nil)
				uplink.Add(n)
				return err
			}
		}
		pending = nil
	} else {
		p.Logf("", "the link from here carries %s/s: the other %d nodes get their content relayed between hosts", HumanBytes(int64(uplinkRate)), len(pending))
	}
	var idle []string
	for running > 0 {
		o := <-out
		running--
		switch {
		case o.err != nil && o.src != "":
			p.Warnf(o.dst, "relay from %s failed, sending from this machine instead: %v", o.src, o.err)
			idle = slices.DeleteFunc(idle, func(h string) bool { return h == o.src })
			direct(o.dst)
		case o.err != nil:
			done(o.dst, o.err)
		default:
			if o.src != "" {
				relayed.Add(o.n)
				p.Progress(o.dst, "stage bundle (relayed from "+o.src+")", o.n, o.n)
				idle = append(idle, o.src)
			} else {
				uplink.Add(o.n)
			}
			done(o.dst, nil)
			held := map[string]bool{}
			for _, f := range p.Content.FilesFor(cache, p.Content.node(o.dst)) {
				held[f.SHA256] = true
			}
			holds[o.dst] = held
			idle = append(idle, o.dst)
		}
		// Give each free holder a node it can serve.
		for i := 0; i < len(idle) && len(pending) > 0; {
			src := idle[i]
			j := slices.IndexFunc(pending, func(dst string) bool { _, _, ok := covered(src, dst); return ok })
			if j < 0 {
				i++
				continue
			}
			dst := pending[j]
			from, rest, _ := covered(src, dst)
			pending = slices.Delete(pending, j, j+1)
			idle = slices.Delete(idle, i, i+1)
			var bytes int64
			for _, f := range from {
				bytes += f.Size
			}
			running++
			go func() {
				var n int64
				err := p.Wet(dst, fmt.Sprintf("relay %d files (%s) from %s to %s", len(from), HumanBytes(bytes), src, StageDir), func() error {
					var err error
					n, err = rr.send(ctx, src, dst, from)
					return err
				})
				if err == nil && len(rest) > 0 {
					var m int64
					m, err = p.direct(ctx, dst, rest, nil)
					uplink.Add(m)
				}
				out <- outcome{src: src, dst: dst, n: n, err: err}
			}()
		}
		// What no holder can serve, with nothing under way, comes from here.
		if running == 0 {
			for _, dst := range pending {
				direct(dst)
			}
			pending = nil
		}
	}
}
