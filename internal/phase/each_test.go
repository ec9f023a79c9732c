package phase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallelEachCollectsEveryError(t *testing.T) {
	hosts := []string{"cp1", "cp2", "cp3", "w1", "w2"}
	var ran sync.Map
	err := ParallelEach(context.Background(), 2, hosts, ident, func(_ context.Context, h string) error {
		ran.Store(h, true)
		switch h {
		case "cp2":
			return errors.New("port 6443 in use")
		case "w2":
			return fmt.Errorf("run %q: exit status 1\noutput line", "true")
		}
		return nil
	})
	for _, h := range hosts {
		if _, ok := ran.Load(h); !ok {
			t.Errorf("host %s did not run", h)
		}
	}
	var he HostErrors
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want HostErrors", err)
	}
	want := "failed on 2 hosts:\n - cp2: port 6443 in use\n - w2: run \"true\": exit status 1\n   output line"
	if err.Error() != want {
		t.Fatalf("message:\n%s\nwant:\n%s", err, want)
	}
	if got := strings.Join(he.Hosts(), ","); got != "cp2,w2" {
		t.Fatalf("hosts = %s", got)
	}
}

func TestParallelEachRespectsLimit(t *testing.T) {
	for _, limit := range []int{1, 3, 0} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			items := make([]string, 12)
			for i := range items {
				items[i] = fmt.Sprint("h", i)
			}
			var cur, peak atomic.Int32
			err := ParallelEach(context.Background(), limit, items, ident, func(context.Context, string) error {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				cur.Add(-1)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := int32(limit)
			if limit == 0 {
				want = int32(len(items))
			}
			if peak.Load() > want {
				t.Fatalf("peak concurrency %d exceeds limit %d", peak.Load(), want)
			}
			if limit == 1 && peak.Load() != 1 {
				t.Fatalf("peak = %d", peak.Load())
			}
		})
	}
}

func TestParallelEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	err := ParallelEach(ctx, 1, []string{"a", "b", "c"}, ident, func(ctx context.Context, h string) error {
		started.Add(1)
		cancel()
		return nil
	})
	if started.Load() != 1 {
		t.Fatalf("%d items started after cancellation, want 1", started.Load())
	}
	var he HostErrors
	if !errors.As(err, &he) || len(he) != 2 || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestEachBatchedStopsAfterFailedBatch(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	var s *Session // a phase used on its own, outside a runner
	err := s.EachBatched(context.Background(), 2, []string{"a", "b", "c", "d", "e"},
		func(_ context.Context, h string) error {
			mu.Lock()
			ran = append(ran, h)
			mu.Unlock()
			if h == "c" {
				return errors.New("etcd member unhealthy")
			}
			return nil
		})
	if len(ran) != 4 {
		t.Fatalf("ran %v, want the first two batches only", ran)
	}
	if err == nil || !strings.Contains(err.Error(), "failed on 1 host:\n - c: etcd member unhealthy") ||
		!strings.Contains(err.Error(), "stopped before the remaining 1: fix the cause and run again") {
		t.Fatalf("err = %v", err)
	}
}
