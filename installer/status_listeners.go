package installer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/inventory"
)

// HostListeners are the sockets one host listens on, each with the plane of its address, and what each of its
// plane NICs has carried.
type HostListeners struct {
	Host      string            `json:"host"`
	Listeners []planes.Listener `json:"listeners,omitempty"`
	Traffic   []planes.Traffic  `json:"traffic,omitempty"` // byte counters per plane NIC, since it came up
	Error     string            `json:"error,omitempty"`   // why they could not be read
}

// readListeners reads every host's listening sockets and NIC counters (nodes and registry hosts), in inventory order.
func (st *Status) readListeners(ctx context.Context, c *Cluster) {
	vips := planes.VIPs(c.Inv)
	hosts := make([]*inventory.Host, len(c.Inv.Hosts))
	for i := range c.Inv.Hosts {
		hosts[i] = &c.Inv.Hosts[i]
	}
	read := map[string]HostListeners{}
	var mu sync.Mutex
	_ = phase.ParallelEach(ctx, phase.DefaultConcurrency, hosts, func(h *inventory.Host) string { return h.Name },
		func(ctx context.Context, h *inventory.Host) error {
			hl := HostListeners{Host: h.Name}
			ls, err := readHostListeners(ctx, c, h, vips)
			if err == nil {
				hl.Traffic, err = readHostTraffic(ctx, c, h)
			}
			if err != nil {
				hl.Error = err.Error()
			}
			hl.Listeners = ls
			mu.Lock()
			read[h.Name] = hl
			mu.Unlock()
			return nil
		})
	out := make([]HostListeners, len(hosts))
	for i, h := range hosts {
		out[i] = read[h.Name]
	}
	st.Listeners = out
}

func readHostListeners(ctx context.Context, c *Cluster, h *inventory.Host, vips map[string]inventory.PlaneName) ([]planes.Listener, error) {
	e, err := c.Host(h.Name)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := e.Exec(cctx, planes.Command)
	if err != nil {
		return nil, fmt.Errorf("list listening sockets: %w", err)
	}
	return planes.Parse(out, h, vips)
}

func readHostTraffic(ctx context.Context, c *Cluster, h *inventory.Host) ([]planes.Traffic, error) {
	cmd, err := planes.CountersCommand(h)
	if err != nil {
		return nil, err
	}
	e, err := c.Host(h.Name)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := e.Exec(cctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("read the NICs' byte counters: %w", err)
	}
	return planes.ParseCounters(out, h)
}
