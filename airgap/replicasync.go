package airgap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// SyncRound is what one round of keeping a registry's replicas in step did.
type SyncRound struct {
	Reachable   int           `json:"reachable"`             // replicas that answered
	Unreachable []string      `json:"unreachable,omitempty"` // "replica: why", sorted
	Copied      []ReplicaPush `json:"copied,omitempty"`      // per replica that lacked references
	Conflicts   []string      `json:"conflicts,omitempty"`   // tags whose digest differs between replicas, sorted
}

// Changes is the number of references the round copied.
func (r SyncRound) Changes() int {
	n := 0
	for _, c := range r.Copied {
		n += c.Pushed
	}
	return n
}

// SyncReplicas makes every reachable replica serve every tag that any of them serves, with the same manifest
// digest: each tag a replica lacks is copied from one that has it (only the blobs it lacks cross), then read back
// there. Repositories keep their paths. A tag that replicas serve with different digests (pushed to two replicas
// apart while they could not reach each other) is a conflict: reported and left alone, since no replica can tell
// which push came last; the operator pushes it again. A replica that does not answer is reported and skipped; it
// catches up in a later round. At most max references are read from each replica.
func SyncReplicas(ctx context.Context, replicas []Replica, max int) (SyncRound, error) {
	var round SyncRound
	served := make([]map[string]string, len(replicas))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs, err := ReplicaRefs(ctx, r, max)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				round.Unreachable = append(round.Unreachable, fmt.Sprintf("%s (%s): %v", r.Name, r.Addr, err))
				return
			}
			served[i] = refs
			round.Reachable++
		}()
	}
	wg.Wait()
	sort.Strings(round.Unreachable)
	if round.Reachable == 0 {
		return round, fmt.Errorf("no replica answered:\n - %s", strings.Join(round.Unreachable, "\n - "))
	}
	// Every tag, with the replicas serving each of its digests, in replica order.
	holders := map[string]map[string][]int{}
	for i, refs := range served {
		for ref, digest := range refs {
			if holders[ref] == nil {
				holders[ref] = map[string][]int{}
			}
			holders[ref][digest] = append(holders[ref][digest], i)
		}
	}
	// copies[dst][src] are the tags dst lacks that src serves.
	copies := map[int]map[int][]pushable{}
	for _, ref := range slices.Sorted(maps.Keys(holders)) {
		byDigest := holders[ref]
		if len(byDigest) > 1 {
			var parts []string
			for _, d := range slices.Sorted(maps.Keys(byDigest)) {
				var names []string
				for _, i := range byDigest[d] {
					names = append(names, replicas[i].Name)
				}
				parts = append(parts, d+" on "+strings.Join(names, ", "))
			}
			round.Conflicts = append(round.Conflicts, ref+": "+strings.Join(parts, "; "))
			continue
		}
		for digest, have := range byDigest {
			for j := range replicas {
				if served[j] == nil || slices.Contains(have, j) {
					continue
				}
				src := have[0]
				if copies[j] == nil {
					copies[j] = map[int][]pushable{}
				}
				copies[j][src] = append(copies[j][src], replicas[src].tagItem(ctx, ref, digest))
			}
		}
	}
	var errs []error
	for _, j := range slices.Sorted(maps.Keys(copies)) {
		total := ReplicaPush{Replica: replicas[j].Name}
		for _, src := range slices.Sorted(maps.Keys(copies[j])) {
			items := copies[j][src]
			res, err := pushReplica(ctx, items, replicas[j], func(err error) error { return err })
			if err != nil {
				errs = append(errs, fmt.Errorf("copy %d tags from %s to %s: %w", len(items), replicas[src].Name, replicas[j].Name, err))
				continue
			}
			total.Images += res.Images
			total.Pushed += res.Pushed
			total.Sent += res.Sent
			total.Duration += res.Duration
		}
		if total.Images > 0 {
			round.Copied = append(round.Copied, total)
		}
	}
	return round, errors.Join(errs...)
}

// tagItem is the tag repo:tag as the replica serves it with digest, to be pushed under the same path.
func (r Replica) tagItem(ctx context.Context, ref, digest string) pushable {
	return pushable{name: ref, digest: digest, refs: []string{ref}, path: true, read: func() (remote.Taggable, error) {
		var nopts []name.Option
		if r.PlainHTTP {
			nopts = append(nopts, name.Insecure)
		}
		at, err := name.ParseReference(r.Addr+"/"+ref, nopts...)
		if err != nil {
			return nil, err
		}
		desc, err := remote.Get(at, r.options(ctx, r.transport())...)
		if err != nil {
			return nil, err
		}
		if desc.Digest.String() != digest {
			return nil, fmt.Errorf("%s on %s moved to %s while it was copied", ref, r.Name, desc.Digest)
		}
		if desc.MediaType.IsIndex() {
			return desc.ImageIndex()
		}
		return desc.Image()
	}}
}

// SyncService keeps a User registry's replicas in step from one of its hosts: a round (SyncReplicas) when it
// starts, within Settle of each push the local registry reports (its notifications, POSTed to Handler), and every
// Every, which brings back a replica that was away.
type SyncService struct {
	Replicas []Replica
	Every    time.Duration // the reconcile period; zero means a minute
	Settle   time.Duration // how long after a push event the round starts, gathering the events of one push; zero means 200 ms
	MaxRefs  int           // references read per replica; zero means 100,000
	Log      *slog.Logger
	// OnRound, when set, receives each round's outcome (tests, figures).
	OnRound func(SyncRound, error)

	kick chan struct{}
	once sync.Once
}

// maxEventBody bounds one notification read from the registry.
const maxEventBody = 1 << 20

func (s *SyncService) init() {
	s.once.Do(func() { s.kick = make(chan struct{}, 1) })
}

// Handler takes the registry's notifications (POST, an envelope of events). A push of a manifest starts a round;
// everything else is acknowledged and ignored. GET answers that the service runs.
func (s *SyncService) Handler() http.Handler {
	s.init()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.Method {
		case http.MethodGet: // the installer's check that the service runs
			fmt.Fprintf(w, "berth registry sync: %d replicas\n", len(s.Replicas))
			return
		case http.MethodPost:
		default:
			http.Error(w, "POST the registry's notifications here", http.StatusMethodNotAllowed)
			return
		}
		var env struct {
			Events []struct {
				Action string
				Target struct {
					MediaType  string
					Repository string
					Tag        string
				}
			}
		}
		if err := json.NewDecoder(io.LimitReader(req.Body, maxEventBody)).Decode(&env); err != nil {
			http.Error(w, "not a notification envelope: "+err.Error(), http.StatusBadRequest)
			return
		}
		for _, e := range env.Events {
			if e.Action == "push" && strings.Contains(e.Target.MediaType, "manifest") {
				s.logger().Info("push reported", "repository", e.Target.Repository, "tag", e.Target.Tag)
				s.Kick()
				break
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// Kick asks for a round soon; kicks that come while one is pending are one.
func (s *SyncService) Kick() {
	s.init()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *SyncService) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Run makes rounds until ctx ends. A round that fails is logged and the next one tries again.
func (s *SyncService) Run(ctx context.Context) error {
	s.init()
	every, settle, max := s.Every, s.Settle, s.MaxRefs
	if every <= 0 {
		every = time.Minute
	}
	if settle <= 0 {
		settle = 200 * time.Millisecond
	}
	if max <= 0 {
		max = 100_000
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	s.Kick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.kick:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(settle):
			}
		}
		start := time.Now()
		round, err := SyncReplicas(ctx, s.Replicas, max)
		if ctx.Err() != nil {
			return nil
		}
		log := s.logger()
		attrs := []any{"reachable", round.Reachable, "copied", round.Changes(), "took", time.Since(start).Round(time.Millisecond)}
		for _, u := range round.Unreachable {
			log.Warn("replica unreachable", "replica", u)
		}
		for _, c := range round.Conflicts {
			log.Warn("tag differs between replicas: push it again", "tag", c)
		}
		if err != nil {
			log.Error("sync round failed", append(attrs, "err", err)...)
		} else if round.Changes() > 0 || len(round.Unreachable) > 0 {
			log.Info("sync round", attrs...)
		}
		if s.OnRound != nil {
			s.OnRound(round, err)
		}
	}
}
