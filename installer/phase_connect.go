package installer

import (
	"context"

	"github.com/berthsh/berth/internal/phase"
)

// Connect is the phase that opens the SSH connection of every host before anything else, so that an unreachable
// host, a bad key or an unknown host key stops an action before any host is touched.
type Connect struct {
	phase.Base
	C     *Cluster
	Hosts []string // the hosts to connect to; nil for every host of the inventory
}

// Title names the phase.
func (p *Connect) Title() string { return "Connect to hosts" }

// Name is the phase's machine name.
func (p *Connect) Name() string { return "connect" }

// AlwaysRun makes the phase run on every run: hosts change between runs.
func (p *Connect) AlwaysRun() bool { return true }

// Run connects to every host of the inventory, or to Hosts.
func (p *Connect) Run(ctx context.Context) error {
	hosts := p.Hosts
	if hosts == nil {
		hosts = p.C.allHosts()
	}
	return p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		h, err := p.C.Host(host)
		if err != nil {
			return err
		}
		return h.Connect(ctx)
	})
}
