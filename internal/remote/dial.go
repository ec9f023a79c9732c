package remote

import (
	"context"
	"fmt"
	"net"
)

// DialContext opens a TCP connection from the host to address (host:port), carried inside the host's SSH
// connection. berth reaches a cluster's API this way: the VIP lives on the control plane, which the machine
// running berth may not route to, while every host is reachable over SSH.
func (e *Executor) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := c.Dial(network, address)
		ch <- result{conn, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("dial %s through %s: %w", address, e.Host(), r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
