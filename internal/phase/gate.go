package phase

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
)

// PlanItem is one change a dry run recorded: what would happen to which host in which phase.
type PlanItem struct {
	Phase  string   `json:"phase"`
	Title  string   `json:"title"`
	Host   string   `json:"host,omitempty"` // empty for cluster-wide changes
	Kind   ItemKind `json:"kind"`
	Action string   `json:"action"`
}

// ItemKind says whether a plan item changes something or waits for something.
type ItemKind string

// Kinds of plan items.
const (
	KindChange ItemKind = "change" // a change a real run makes (through Session.Wet)
	KindWait   ItemKind = "wait"   // a planned wait, with its timeout (Session.Wait, gates)
)

// Plan is every change a dry run recorded, in the order the phases would make them.
type Plan struct {
	Items []PlanItem `json:"items"`
}

// Empty reports whether the plan changes nothing (it may still wait for things).
func (p *Plan) Empty() bool { return len(p.Changes()) == 0 }

// Changes returns the items that change something, leaving out the waits.
func (p *Plan) Changes() []PlanItem {
	if p == nil {
		return nil
	}
	var out []PlanItem
	for _, it := range p.Items {
		if it.Kind != KindWait {
			out = append(out, it)
		}
	}
	return out
}

// ForHost returns the items of one host.
func (p *Plan) ForHost(host string) []PlanItem {
	var out []PlanItem
	for _, it := range p.Items {
		if it.Host == host {
			out = append(out, it)
		}
	}
	return out
}

// WriteText prints the plan grouped by phase, then host.
func (p *Plan) WriteText(w io.Writer) error {
	if p.Empty() {
		_, err := fmt.Fprintln(w, "Plan: nothing to change.")
		return err
	}
	changes := len(p.Changes())
	if waits := len(p.Items) - changes; waits > 0 {
		fmt.Fprintf(w, "Plan: %d changes, %d waits\n", changes, waits)
	} else {
		fmt.Fprintf(w, "Plan: %d changes\n", changes)
	}
	// Hosts run in parallel, so their items interleave; within a phase, list them host by host (in the order
	// each host first appeared), keeping each host's actions in order.
	items := append([]PlanItem(nil), p.Items...)
	first := map[string]int{}
	for i, it := range items {
		for _, k := range []string{it.Phase, it.Phase + "\x00" + it.Host} {
			if _, ok := first[k]; !ok {
				first[k] = i
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if pa, pb := first[a.Phase], first[b.Phase]; pa != pb {
			return pa < pb
		}
		return first[a.Phase+"\x00"+a.Host] < first[b.Phase+"\x00"+b.Host]
	})
	lastPhase, lastHost := "", "\x00"
	for _, it := range items {
		if it.Phase != lastPhase {
			fmt.Fprintf(w, "%s (%s)\n", it.Title, it.Phase)
			lastPhase, lastHost = it.Phase, "\x00"
		}
		if it.Host != lastHost {
			h := it.Host
			if h == "" {
				h = "(cluster)"
			}
			fmt.Fprintf(w, "  %s\n", h)
			lastHost = it.Host
		}
		mark := "-"
		if it.Kind == KindWait {
			mark = "~"
		}
		if _, err := fmt.Fprintf(w, "    %s %s\n", mark, it.Action); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	if p == nil {
		p = &Plan{}
	}
	if p.Items == nil {
		p = &Plan{Items: []PlanItem{}}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// gate is the one place where changes happen, or, in a dry run, are recorded instead.
type gate struct {
	dry bool
	em  *emitter

	mu    sync.Mutex
	plan  Plan
	wet   int // changes made (real runs)
	calls int // every call through the gate
}

// do runs fn, or records it in a dry run.
func (g *gate) do(phase, title, host, action string, fn func() error) error {
	g.mu.Lock()
	g.calls++
	if g.dry {
		g.plan.Items = append(g.plan.Items, PlanItem{Phase: phase, Title: title, Host: host, Kind: KindChange, Action: action})
		g.mu.Unlock()
		g.em.emit(Event{Kind: Planned, Phase: phase, Title: title, Host: host, Message: action})
		return nil
	}
	g.wet++
	g.mu.Unlock()
	return fn()
}

// record adds an item to a dry run's plan.
func (g *gate) record(phase, title, host, action string, kind ItemKind) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.plan.Items = append(g.plan.Items, PlanItem{Phase: phase, Title: title, Host: host, Kind: kind, Action: action})
}

// made returns how many changes went through the gate in a real run.
func (g *gate) made() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.wet
}

func (g *gate) snapshot() *Plan {
	g.mu.Lock()
	defer g.mu.Unlock()
	return &Plan{Items: append([]PlanItem(nil), g.plan.Items...)}
}
