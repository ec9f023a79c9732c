package upgrade

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berthsh/berth/bundles"
)

// Hop is one step of the control plane: from one Kubernetes version to the next, with the bundle that carries it.
type Hop struct {
	From, To Version
	Bundle   *bundles.Bundle
}

// Path is how a cluster gets from where it is to the last bundle's version: the control plane's hops, one minor at
// a time, and the target every kubelet moves to once.
type Path struct {
	Hops   []Hop
	Target Version
}

// Last returns the bundle of the last hop, the one every node ends on; nil when there is nothing to do.
func (p *Path) Last() *bundles.Bundle {
	if len(p.Hops) == 0 {
		return nil
	}
	return p.Hops[len(p.Hops)-1].Bundle
}

// Problem is a check that failed: what and where, and how to fix it.
type Problem struct {
	Check  string `json:"check"`
	Host   string `json:"host,omitempty"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func (p Problem) String() string {
	where := ""
	if p.Host != "" {
		where = p.Host + ": "
	}
	return fmt.Sprintf("%s%s: %s (fix: %s)", where, p.Check, p.Detail, p.Fix)
}

// PlanPath works out the control plane's hops from current to the newest of the bundles, one minor at a time and
// never down, and checks that every kubelet stays within MaxKubeletSkew minors of the API server at every hop
// (kubelets move once, to the target, after the last hop). Every problem is returned at once; the path is only
// usable when there are none. kubelets maps node names to their kubelet versions.
func PlanPath(current Version, kubelets map[string]Version, bs []*bundles.Bundle) (*Path, []Problem) {
	var problems []Problem
	if len(bs) == 0 {
		return nil, []Problem{{Check: "bundle", Detail: "no bundle given", Fix: "name the bundle of the target version with -b"}}
	}
	type candidate struct {
		v Version
		b *bundles.Bundle
	}
	var cands []candidate
	for _, b := range bs {
		v, err := ParseVersion(b.Manifest.KubernetesVersion)
		if err != nil {
			problems = append(problems, Problem{Check: "bundle", Detail: fmt.Sprintf("bundle %s %s: %v", b.Manifest.Name, b.Manifest.Version, err),
				Fix: "use a bundle built by berth"})
			continue
		}
		cands = append(cands, candidate{v, b})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	slices.SortFunc(cands, func(a, b candidate) int { return a.v.Compare(b.v) })
	target := cands[len(cands)-1]
	path := &Path{Target: target.v}
	switch c := target.v.Compare(current); {
	case c < 0:
		return nil, []Problem{{Check: "version", Detail: fmt.Sprintf("the bundle carries Kubernetes %s, older than the cluster's %s: berth never downgrades",
			target.v, current), Fix: "use a bundle of " + current.String() + " or newer; to go back, restore the etcd snapshot taken before the upgrade (berth etcd restore)"}}
	case c == 0:
		path.Hops = nil
		return path, checkSkew(current, kubelets, path)
	}
	if target.v.Major != current.Major {
		return nil, []Problem{{Check: "version", Detail: fmt.Sprintf("Kubernetes %s to %s changes the major version", current, target.v),
			Fix: "berth upgrades within Kubernetes 1.x only"}}
	}
	// One hop per minor: the newest bundle of each minor after the current one, up to the target.
	byMinor := map[int]candidate{}
	for _, c := range cands {
		if c.v.Compare(current) <= 0 {
			continue
		}
		if have, ok := byMinor[c.v.Minor]; !ok || c.v.Compare(have.v) > 0 {
			byMinor[c.v.Minor] = c
		}
	}
	from := current
	var missing []string
	for minor := current.Minor; minor <= target.v.Minor; minor++ {
		c, ok := byMinor[minor]
		if !ok {
			if minor > current.Minor {
				missing = append(missing, fmt.Sprintf("%d.%d", current.Major, minor))
			}
			continue
		}
		path.Hops = append(path.Hops, Hop{From: from, To: c.v, Bundle: c.b})
		from = c.v
	}
	if len(missing) > 0 {
		return nil, []Problem{{Check: "version", Detail: fmt.Sprintf("the control plane moves one minor at a time, and from %s to %s no bundle carries Kubernetes %s",
			current, target.v, strings.Join(missing, ", ")), Fix: "add the bundle of each missing minor (berth upgrade plan -b OLDER.tar -b NEWER.tar), or upgrade to " +
			fmt.Sprintf("%d.%d", current.Major, current.Minor+1) + " first"}}
	}
	return path, checkSkew(current, kubelets, path)
}

// checkSkew checks every kubelet against the API server's version before and after every hop: never newer, at
// most MaxKubeletSkew minors behind. Kubelets move to the target after the last hop.
func checkSkew(current Version, kubelets map[string]Version, p *Path) []Problem {
	var problems []Problem
	apis := []Version{current}
	for _, h := range p.Hops {
		apis = append(apis, h.To)
	}
	for _, node := range slices.Sorted(maps.Keys(kubelets)) {
		k := kubelets[node]
		if k.Compare(p.Target) > 0 {
			problems = append(problems, Problem{Check: "kubelet-skew", Host: node, Detail: fmt.Sprintf("the kubelet runs %s, newer than the target %s", k, p.Target),
				Fix: "a kubelet is never newer than the API server: upgrade to a bundle of " + k.MinorString() + " or newer"})
			continue
		}
		for _, api := range apis {
			if behind := k.MinorsBehind(api); behind > MaxKubeletSkew {
				problems = append(problems, Problem{Check: "kubelet-skew", Host: node,
					Detail: fmt.Sprintf("the kubelet runs %s, %d minors behind the API server's %s on the way (at most %d)", k, behind, api, MaxKubeletSkew),
					Fix:    "upgrade this node's kubelet first, with a bundle of " + fmt.Sprintf("%d.%d", api.Major, api.Minor-MaxKubeletSkew) + " or newer"})
				break
			}
		}
	}
	return problems
}
