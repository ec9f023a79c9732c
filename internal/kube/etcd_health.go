package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// etcdStatusTimeout bounds the status of one endpoint, as etcdctl's command timeout does: a member that is down
// (its calls wait until a connection is ready) must not hold a health check for long.
const etcdStatusTimeout = 5 * time.Second

// MemberHealth is the health of the member behind one endpoint, as it reports it.
type MemberHealth struct {
	Endpoint string
	ID       uint64 // the member answering
	Healthy  bool   // it answered, knows a leader and reports no error (alarm)
	Leader   bool   // it is the leader
	LeaderID uint64 // the leader it knows (0: none)
	Version  string // etcd's version
	DBSize   int64  // bytes
	Err      string // why it is not healthy
}

// Health asks every endpoint for its member's status, all at once.
func (e *Etcd) Health(ctx context.Context) []MemberHealth {
	out := make([]MemberHealth, len(e.o.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range e.o.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.endpointHealth(ctx, ep)
		}()
	}
	wg.Wait()
	return out
}

func (e *Etcd) endpointHealth(ctx context.Context, ep string) MemberHealth {
	h := MemberHealth{Endpoint: ep}
	ctx, cancel := context.WithTimeout(ctx, min(e.o.Timeout, etcdStatusTimeout))
	defer cancel()
	st, err := e.cli.Status(ctx, ep)
	if err != nil {
		h.Err = err.Error()
		return h
	}
	h.ID, h.LeaderID, h.Version, h.DBSize = st.Header.MemberId, st.Leader, st.Version, st.DbSize
	h.Leader = st.Leader != 0 && st.Leader == st.Header.MemberId
	switch {
	case len(st.Errors) > 0:
		h.Err = strings.Join(st.Errors, "; ")
	case st.Leader == 0:
		h.Err = "no leader"
	default:
		h.Healthy = true
	}
	return h
}

// Healthy is done when every member has started and its endpoint reports it healthy, they all follow the same
// leader, and the cluster answers a read that needs a quorum. A member none of the endpoints reaches is waited
// for, and so is everything else: etcd may heal.
func (e *Etcd) Healthy() Condition {
	return func(ctx context.Context) (bool, string, error) {
		members, err := e.Members(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		health := e.Health(ctx)
		byEndpoint := map[string]MemberHealth{}
		leaders := map[uint64]bool{}
		for _, h := range health {
			byEndpoint[endpointKey(h.Endpoint)] = h
			if h.Healthy {
				leaders[h.LeaderID] = true
			}
		}
		names := map[uint64]string{}
		var problems []string
		healthy := 0
		for _, m := range members {
			names[m.ID] = m.Name
			h, ok := memberHealth(m, byEndpoint)
			switch {
			case !m.Started():
				problems = append(problems, "member "+m.HexID()+" has not started")
			case !ok:
				problems = append(problems, "member "+m.Name+" is not among the endpoints checked")
			case !h.Healthy:
				problems = append(problems, m.Name+": "+firstLine(h.Err))
			default:
				healthy++
			}
		}
		status := fmt.Sprintf("%d/%d etcd members healthy", healthy, len(members))
		if len(leaders) > 1 {
			problems = append(problems, fmt.Sprintf("members follow %d different leaders", len(leaders)))
		}
		if len(problems) == 0 {
			if err := e.quorumRead(ctx); err != nil {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return false, status + "; " + listSome(problems), nil
		}
		for id := range leaders {
			status += ", leader " + names[id]
		}
		return true, status, nil
	}
}

// quorumRead reads a key linearizably, which only a cluster with a quorum can answer. Being refused the key
// (authentication on) still proves the quorum, as etcdctl endpoint health takes it.
func (e *Etcd) quorumRead(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	if _, err := e.cli.Get(ctx, "health"); err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		return fmt.Errorf("quorum read: %w", err)
	}
	return nil
}

// memberHealth finds the health of a member by its client URLs.
func memberHealth(m Member, byEndpoint map[string]MemberHealth) (MemberHealth, bool) {
	for _, u := range m.ClientURLs {
		if h, ok := byEndpoint[endpointKey(u)]; ok {
			return h, true
		}
	}
	for _, h := range byEndpoint {
		if h.ID == m.ID && h.ID != 0 {
			return h, true
		}
	}
	return MemberHealth{}, false
}

// endpointKey reduces a client URL to host:port, so that "https://10.0.0.1:2379/" matches "https://10.0.0.1:2379".
func endpointKey(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Host
}

// hexID formats a member ID the way etcdctl prints it.
func hexID(id uint64) string { return strconv.FormatUint(id, 16) }
