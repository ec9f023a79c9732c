package bundles

import (
	"sort"
)

// Change is one difference between two bundles. From is empty for an addition, To for a removal.
type Change struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Diff is what moving from bundle A to bundle B changes.
type Diff struct {
	From              string   `json:"from"` // A's name and version
	To                string   `json:"to"`
	KubernetesVersion Change   `json:"kubernetesVersion"`
	Target            Change   `json:"target"` // "os/arch distro": a change means other hosts, not an upgrade
	Components        []Change `json:"components"`
	Images            []Change `json:"images"` // by ref; From/To are digests
	Packages          []Change `json:"packages"`
	Charts            []Change `json:"charts"`
	Files             []Change `json:"files"` // bin/ and files/ by path; From/To are sha256
	// BytesToMove is the size of B's content that A does not already hold (by sha256): what an upgrade must stage
	// on hosts that have A. BytesTotal is B's whole payload; BytesShared what is reused.
	BytesToMove int64 `json:"bytesToMove"`
	BytesShared int64 `json:"bytesShared"`
	BytesTotal  int64 `json:"bytesTotal"`
	// ByComponent splits B's files by component, with what each adds: its sum of BytesToMove is the total, and
	// exactly what a patch of B against A (berth bundle delta) carries. Sorted by bytes to move, largest first.
	ByComponent []ComponentMove `json:"byComponent"`
}

// ComponentMove is what one component of bundle B adds to bundle A.
type ComponentMove struct {
	// Component is the manifest's component name; image blobs take their image's component, a blob several
	// components' images share is "shared image blobs", and files without a component are named by kind.
	Component string `json:"component"`
	// Files and Bytes are all of the component's files in B; NewFiles and BytesToMove those whose content A lacks.
	Files       int   `json:"files"`
	Bytes       int64 `json:"bytes"`
	NewFiles    int   `json:"newFiles"`
	BytesToMove int64 `json:"bytesToMove"`
}

// Empty reports whether nothing changes.
func (d *Diff) Empty() bool {
	return d.KubernetesVersion.From == d.KubernetesVersion.To && d.Target.From == d.Target.To && len(d.Components)+len(d.Images)+len(d.Packages)+
		len(d.Charts)+len(d.Files) == 0
}

// Compare computes what an upgrade from bundle a to bundle b changes.
func Compare(a, b *Manifest) *Diff {
	d := &Diff{
		From:              a.Name + " " + a.Version,
		To:                b.Name + " " + b.Version,
		KubernetesVersion: Change{Name: "kubernetes", From: a.KubernetesVersion, To: b.KubernetesVersion},
		Target:            Change{Name: "target", From: a.Target.String(), To: b.Target.String()},
	}
	d.Components = diffMaps(componentMap(a), componentMap(b))
	d.Images = diffMaps(imageMap(a), imageMap(b))
	d.Packages = diffMaps(packageMap(a), packageMap(b))
	d.Charts = diffMaps(chartMap(a), chartMap(b))
	d.Files = diffMaps(plainFileMap(a), plainFileMap(b))
	have := map[string]bool{}
	for _, f := range a.Files {
		have[f.SHA256] = true
	}
	counted := map[string]bool{}
	for _, f := range b.Files {
		if counted[f.SHA256] {
			continue
		}
		counted[f.SHA256] = true
		d.BytesTotal += f.Size
		if have[f.SHA256] {
			d.BytesShared += f.Size
		}
	}
	plan := planPatch(b, a)
	d.BytesToMove = plan.carriedBytes
	d.ByComponent = componentMoves(b, plan)
	return d
}

// componentMoves attributes b's files to components and counts what plan carries of each.
func componentMoves(b *Manifest, plan *patchPlan) []ComponentMove {
	owners := map[string]map[string]bool{} // blob path -> owning components
	for _, im := range b.Images {
		owner := im.Component
		if owner == "" {
			owner = im.Name
		}
		for _, d := range im.Blobs() {
			p := BlobPath(d)
			if owners[p] == nil {
				owners[p] = map[string]bool{}
			}
			owners[p][owner] = true
		}
	}
	by := map[string]*ComponentMove{}
	for _, f := range b.Files {
		name := f.Component
		switch {
		case name != "":
		case f.Kind == KindImageBlob && len(owners[f.Path]) == 1:
			for o := range owners[f.Path] {
				name = o
			}
		case f.Kind == KindImageBlob:
			name = "shared image blobs"
		default:
			name = "(" + string(f.Kind) + ")"
		}
		c := by[name]
		if c == nil {
			c = &ComponentMove{Component: name}
			by[name] = c
		}
		c.Files++
		c.Bytes += f.Size
		if plan.carries(f.Path) {
			c.NewFiles++
			c.BytesToMove += f.Size
		}
	}
	out := make([]ComponentMove, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].BytesToMove != out[j].BytesToMove {
			return out[i].BytesToMove > out[j].BytesToMove
		}
		return out[i].Component < out[j].Component
	})
	return out
}

func componentMap(m *Manifest) map[string]string {
	out := map[string]string{}
	for _, c := range m.Components {
		out[c.Name] = c.Version
	}
	return out
}

func imageMap(m *Manifest) map[string]string {
	out := map[string]string{}
	for _, im := range m.Images {
		for _, r := range im.Refs {
			out[r] = im.Digest
		}
	}
	return out
}

func packageMap(m *Manifest) map[string]string {
	out := map[string]string{}
	for _, p := range m.Packages {
		out[p.Name] = p.Version
	}
	return out
}

func chartMap(m *Manifest) map[string]string {
	out := map[string]string{}
	for _, c := range m.Charts {
		out[c.Name] = c.Version
	}
	return out
}

// plainFileMap maps the files that are not images, packages or charts (binaries, CNI plugins, other files).
func plainFileMap(m *Manifest) map[string]string {
	out := map[string]string{}
	for _, f := range m.Files {
		switch f.Kind {
		case KindImageBlob, KindImageIndex, KindPackage, KindChart:
			continue
		}
		out[f.Path] = f.SHA256
	}
	return out
}

// diffMaps lists added, removed and changed keys, sorted by name.
func diffMaps(a, b map[string]string) []Change {
	var out []Change
	for k, av := range a {
		if bv, ok := b[k]; !ok {
			out = append(out, Change{Name: k, From: av})
		} else if av != bv {
			out = append(out, Change{Name: k, From: av, To: bv})
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			out = append(out, Change{Name: k, To: bv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
