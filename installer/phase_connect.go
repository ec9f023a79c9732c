package installer

import (
	"context"

	"github.com/berthsh/berth/internal/phase"
)

// connect opens the SSH connection of every host before anything else, so that an unreachable host, a bad key or
// an unknown host key stops the install before any host is touched.
type connect struct {
	phase.Base
	c *Cluster
}

func (p *connect) Title() string   { return "Connect to hosts" }
func (p *connect) Name() string    { return "connect" }
func (p *connect) AlwaysRun() bool { return true }

func (p *connect) Run(ctx context.Context) error {
	return p.Each(ctx, p.c.allHosts(), func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		return e.Connect(ctx)
	})
}
