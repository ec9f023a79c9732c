package installer

import (
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/inventory"
)

func members(states ...string) []MemberState {
	var out []MemberState
	for i, s := range states { // "cp1", "cp1!" (unhealthy), "cp1*" (the one removed), "cp1*!"
		m := MemberState{Name: strings.TrimRight(s, "*!"), ID: string(rune('a' + i)), Healthy: !strings.HasSuffix(s, "!"),
			Removed: strings.Contains(s, "*")}
		if !m.Healthy {
			m.Error = "context deadline exceeded"
		}
		out = append(out, m)
	}
	return out
}

// TestQuorumRefusal: a member is removed only when etcd has a healthy quorum now and keeps one afterwards.
func TestQuorumRefusal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []MemberState
		want    string // "" when allowed
	}{
		{"healthy three, remove one", members("cp1", "cp2", "cp3*"), ""},
		{"healthy two, remove one", members("cp1", "cp2*"), ""},
		{"one of three down, remove the down one", members("cp1", "cp2", "cp3*!"), ""},
		{"one of three down, remove a healthy one", members("cp1", "cp2!", "cp3*"),
			"removing cp3 would leave etcd with 2 members of which 1 healthy: 2 are needed for a quorum"},
		{"two of three down, remove the healthy one", members("cp1!", "cp2!", "cp3*"), "etcd has no quorum now (1 of 3 members healthy, 2 needed)"},
		{"two of three down, remove a down one", members("cp1", "cp2!", "cp3*!"), "etcd has no quorum now"},
		{"the only member", members("cp1*"), "runs the only etcd member"},
		{"one of five down, remove a healthy one", members("cp1", "cp2", "cp3", "cp4!", "cp5*"), ""},
		{"two of five down, remove a healthy one", members("cp1", "cp2", "cp3!", "cp4!", "cp5*"),
			"would leave etcd with 4 members of which 2 healthy: 3 are needed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := ""
			for _, m := range tc.members {
				if m.Removed {
					target = m.Name
				}
			}
			err := quorumAfter(target, tc.members)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), "fix:"):
				t.Errorf("the refusal names no fix: %v", err)
			}
		})
	}
	err := quorumAfter("cp3", members("cp1", "cp2!", "cp3*"))
	for _, want := range []string{"etcd now: cp1 healthy, cp2 unhealthy (context deadline exceeded), cp3 healthy", "bring cp2 back first", "berth node remove cp2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q:\n%v", want, err)
		}
	}
}

// TestPlanRemoval: the steps of removing a worker, a control plane and a control plane whose host is gone, and
// what is refused before anything changes.
func TestPlanRemoval(t *testing.T) {
	inv := exampleInventory(t)
	base := removalFacts{DrainTimeout: 5 * time.Minute, ControlPlanesLeft: []string{"cp1", "cp2"}, DNSHostsLeft: []string{"cp1", "cp2"},
		Known: []string{"cp1", "cp2", "cp3", "worker1", "worker2"}}
	steps := func(t *testing.T, f removalFacts, want ...string) *Removal {
		t.Helper()
		r, err := planRemoval(f)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(r.Steps, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("steps lack %q:\n%s", w, all)
			}
		}
		return r
	}
	t.Run("worker", func(t *testing.T) {
		f := base
		f.Node, f.Host, f.HostHasBerth, f.Registered, f.Ready = "worker1", inv.Host("worker1"), true, true, true
		r := steps(t, f, "cordon and drain worker1 (evicting, PodDisruptionBudgets honoured; up to 5m0s)", "reset worker1", "delete node worker1")
		if r.ControlPlane || len(r.Steps) != 3 || r.Nothing {
			t.Errorf("plan = %+v", r)
		}
	})
	t.Run("control plane", func(t *testing.T) {
		f := base
		f.Node, f.Host, f.HostHasBerth, f.Registered, f.Ready = "cp3", inv.Host("cp3"), true, true, true
		f.Members = members("cp1", "cp2", "cp3*")
		r := steps(t, f, "take cp3 out of the haproxy of every control plane, then stop keepalived and haproxy on it",
			"stop cp3's API server", "remove etcd member c (cp3): 3 members -> 2", "write haproxy and keepalived on cp1, cp2 without cp3",
			"DNS cache at cp1, cp2", "reset cp3", "delete node cp3")
		if !r.ControlPlane || r.EtcdMember != "c" {
			t.Errorf("plan = %+v", r)
		}
	})
	t.Run("control plane whose host is gone from the inventory", func(t *testing.T) {
		f := base
		f.Node, f.Registered, f.RoleControlPlane = "cp3", true, true
		f.Members = members("cp1", "cp2", "cp3*!")
		r := steps(t, f, "no drain: cp3 is not Ready or not reachable", "take cp3 out of the haproxy of cp1, cp2", "remove etcd member", "delete node cp3")
		for _, s := range r.Steps {
			if strings.HasPrefix(s, "reset") || strings.Contains(s, "stop cp3's API server") {
				t.Errorf("a host berth cannot reach is planned to change: %s", s)
			}
		}
	})
	t.Run("removed already", func(t *testing.T) {
		f := base
		f.Node, f.Host = "worker1", inv.Host("worker1")
		if r := steps(t, f); !r.Nothing || len(r.Steps) != 0 {
			t.Errorf("a removed node: %+v", r)
		}
	})
	for _, tc := range []struct {
		name string
		edit func(*removalFacts)
		want string
	}{
		{"unknown name", func(f *removalFacts) { f.Node = "wroker1" }, "no node wroker1 in the inventory or the cluster; did you mean worker1?"},
		{"not a node", func(f *removalFacts) { f.Node, f.Host = "reg1", inv.Host("reg1") }, "reg1 is not a Kubernetes node (roles: registry)"},
		{"last control plane", func(f *removalFacts) {
			f.Node, f.Host, f.Registered, f.ControlPlanesLeft, f.Members = "cp1", inv.Host("cp1"), true, nil, members("cp1*")
		}, "cp1 is the last control plane"},
		{"last DNS host", func(f *removalFacts) {
			f.Node, f.Host, f.Registered, f.DNSHostsLeft, f.Members = "cp3", inv.Host("cp3"), true, nil, members("cp1", "cp2", "cp3*")
		}, "last host serving cluster DNS"},
		{"quorum", func(f *removalFacts) {
			f.Node, f.Host, f.Registered, f.Members = "cp3", inv.Host("cp3"), true, members("cp1", "cp2!", "cp3*")
		}, "would leave etcd with 2 members of which 1 healthy"},
		{"blocking budget", func(f *removalFacts) {
			f.Node, f.Host, f.HostHasBerth, f.Registered, f.Ready = "worker1", inv.Host("worker1"), true, true, true
			f.Blocking = []kube.BlockingBudget{{Namespace: "shop", Name: "cart", Healthy: 2, Expected: 2, NeedsHealthy: 2, Pods: []string{"shop/cart-1 on worker1"}}}
		}, "PodDisruptionBudget shop/cart allows no disruption now (2 of 2 pods healthy, 2 needed) and covers shop/cart-1 on worker1"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			_, err := planRemoval(f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("a blocking budget does not stop --disable-eviction", func(t *testing.T) {
		f := base
		f.Node, f.Host, f.HostHasBerth, f.Registered, f.Ready, f.DisableEviction = "worker1", inv.Host("worker1"), true, true, true, true
		f.Blocking = []kube.BlockingBudget{{Namespace: "shop", Name: "cart"}}
		steps(t, f, "deleting pods, PodDisruptionBudgets NOT honoured")
	})
}

// TestRemovalLeavesOutUnjoinedHosts: a node host the cluster does not have (removed earlier and still listed, or not
// joined yet) is taken out of what the removal renders, and named; hosts that are no nodes, and every registered
// node, stay. The inventory the caller passed is not changed.
func TestRemovalLeavesOutUnjoinedHosts(t *testing.T) {
	inv, err := inventory.Load("../inventory/testdata/valid/storage-zone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rest := withoutHost(inv, "cp1")
	absent := leaveOutUnjoined(rest, []string{"cp1", "cp2", "cp3"}) // w1 removed earlier, still listed
	if strings.Join(absent, ",") != "w1" {
		t.Errorf("left out %v, want [w1]", absent)
	}
	var left []string
	for _, h := range rest.Hosts {
		left = append(left, h.Name)
	}
	if got := strings.Join(left, ","); got != "cp2,cp3,reg1,st1" {
		t.Errorf("the removal renders for %s, want cp2,cp3,reg1,st1", got)
	}
	if len(inv.Hosts) != 6 || inv.Host("w1") == nil {
		t.Errorf("the caller's inventory changed: %d hosts", len(inv.Hosts))
	}
	if absent := leaveOutUnjoined(withoutHost(inv, "cp1"), []string{"cp2", "cp3", "w1"}); len(absent) != 0 {
		t.Errorf("every node registered, yet %v left out", absent)
	}
}
