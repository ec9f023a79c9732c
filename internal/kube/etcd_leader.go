package kube

import (
	"context"
	"fmt"
	"slices"
)

// HandOffLeader makes sure the member whose client endpoint is endpoint does not lead: when it does, leadership
// moves to another healthy member first, so that restarting the member does not leave the cluster to elect a
// leader while it serves (requests in flight then fail with "leader changed"). Leadership goes to the first healthy
// member among prefer (client endpoints), else to any healthy one. It returns the member that leads afterwards, in
// hex ("" when nothing moved).
func (e *Etcd) HandOffLeader(ctx context.Context, endpoint string, prefer ...string) (string, error) {
	health := e.Health(ctx)
	var leader, to *MemberHealth
	rank := func(h *MemberHealth) int { // lower is better: a preferred member in the order given, then any other
		if i := slices.Index(prefer, h.Endpoint); i >= 0 {
			return i
		}
		return len(prefer)
	}
	for i := range health {
		h := &health[i]
		switch {
		case h.Endpoint == endpoint && h.Leader:
			leader = h
		case h.Endpoint != endpoint && h.Healthy && (to == nil || rank(h) < rank(to)):
			to = h
		}
	}
	if leader == nil {
		return "", nil
	}
	if to == nil {
		return "", fmt.Errorf("etcd member %s leads and no other member is healthy to take over", hexID(leader.ID))
	}
	cli, err := e.client(endpoint) // leadership moves only at the leader's request
	if err != nil {
		return "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	if _, err := cli.MoveLeader(ctx, to.ID); err != nil {
		return "", fmt.Errorf("move etcd leadership from %s to %s: %w", hexID(leader.ID), hexID(to.ID), err)
	}
	e.log.Info("etcd leadership moved", "from", hexID(leader.ID), "to", hexID(to.ID))
	return hexID(to.ID), nil
}
