package airgap

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// Node is a host that bundle content goes to. A control plane also gets the control-plane images and etcdctl; a
// host that runs a registry also gets the registry engine (RegistryFiles).
type Node struct {
	Name         string
	ControlPlane bool
	Registry     bool // runs a registry
	NoNode       bool // a host that is not a Kubernetes node: it gets Packages, and the registry engine if Registry
	// Packages are the bundle's Debian packages (by name) a host that is no node gets: keepalived's closure where it
	// holds a registry VIP, nftables' where berth's firewall runs (PackageClosure). Nodes get every package.
	Packages []string
}

// RegistryFiles is the bundle directory of the registry engine: what a registry host gets, and only it.
const RegistryFiles = "files/registry/"

// RegistryEngine returns the registry engine's binary in the bundle: the one file under RegistryFiles.
func RegistryEngine(m *bundles.Manifest) (bundles.File, error) {
	var found []bundles.File
	for _, f := range FilesOf(m, bundles.KindFile) {
		if strings.HasPrefix(f.Path, RegistryFiles) {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return bundles.File{}, fmt.Errorf("bundle %s %s carries %d files under %s, not the one registry engine: the inventory's registries need a bundle built with it (a source installed to %sregistry)",
			m.Name, m.Version, len(found), RegistryFiles, RegistryFiles)
	}
	return found[0], nil
}

// Content is one bundle's content and the nodes it goes to: what the Stage and Images phases of an action move.
type Content struct {
	Bundle   *bundles.Bundle
	CacheDir string // base of the local cache; the bundle's manifest digest names its directory
	Nodes    []Node
	Host     func(name string) (remote.Host, error) // the connection to a node
	Relays   *Relays                                // nodes pass content on to each other; nil: all from here
	// Pulled are the upstreams whose images nodes pull from the System registry, which holds the bundle's images:
	// nodes import only those they need before a registry can serve them (ImageSets). Nil: nodes import all.
	Pulled []string

	once  sync.Once
	cache *Cache
	err   error

	setsOnce       sync.Once
	cpSet, nodeSet ImageSet
}

// Cache extracts the bundle on this machine the first time it is asked, and returns the cache.
func (c *Content) Cache(ctx context.Context) (*Cache, error) {
	c.once.Do(func() {
		cp, node := c.sets()
		c.cache, c.err = PrepareCache(ctx, c.Bundle, c.CacheDir, cp, node)
	})
	return c.cache, c.err
}

// Staged is one file copied from the bundle to a host's stage directory.
type Staged struct {
	Path   string // in the bundle ("" for an image set's index, which berth writes)
	Local  string // on the machine running berth; "" when the bundle here does not hold it (Bundle.Holds)
	Remote string // on the host
	SHA256 string
	Size   int64
}

// SetFor returns the image set a node needs.
func (c *Content) SetFor(n Node) ImageSet {
	cp, node := c.sets()
	if n.ControlPlane {
		return cp
	}
	return node
}

// sets returns the control planes' and the other nodes' image sets.
func (c *Content) sets() (controlPlane, node ImageSet) {
	c.setsOnce.Do(func() { c.cpSet, c.nodeSet = ImageSets(c.Bundle.Manifest, c.Pulled) })
	return c.cpSet, c.nodeSet
}

// FilesFor lists what a node needs from the bundle, as files of the cache to stage: packages, CNI plugins, binaries
// (etcdctl on control planes only), and its image set: every blob (manifest, config, layers), each once, and the
// set's index.
func (c *Content) FilesFor(cache *Cache, n Node) []Staged {
	files, set := c.bundleFiles(n)
	out := make([]Staged, 0, len(files)+1)
	for _, f := range files {
		s := Staged{Path: f.Path, Remote: StagePath(f.SHA256), SHA256: f.SHA256, Size: f.Size}
		if c.Bundle.Holds(f.Path) {
			s.Local = filepath.Join(cache.Dir, filepath.FromSlash(f.Path))
		}
		out = append(out, s)
	}
	if n.NoNode {
		return out
	}
	ix := cache.Indexes[set.Name]
	return append(out, Staged{Local: ix.Path, Remote: StagePath(ix.SHA256), SHA256: ix.SHA256, Size: ix.Size})
}

// Lacking reads, on every node at once, which files it needs that neither it nor this machine holds: content a
// patch bundle opened without its base (bundles.Bundle.WithoutBase) takes from the base, which the node must have
// staged before. It returns nil when nothing lacks, else a *LackingError naming each node and file; a full bundle
// reads no host.
func (c *Content) Lacking(ctx context.Context) error {
	if !c.Bundle.WithoutBase {
		return nil
	}
	lack := &LackingError{Bundle: c.Bundle, Hosts: map[string][]Staged{}}
	var mu sync.Mutex
	err := phase.ParallelEach(ctx, phase.DefaultConcurrency, c.Nodes, func(n Node) string { return n.Name },
		func(ctx context.Context, n Node) error {
			files, _ := c.bundleFiles(n)
			var want []Staged
			var paths []string
			for _, f := range files {
				if !c.Bundle.Holds(f.Path) {
					want = append(want, Staged{Path: f.Path, Remote: StagePath(f.SHA256), SHA256: f.SHA256, Size: f.Size})
					paths = append(paths, StagePath(f.SHA256))
				}
			}
			h, err := c.Host(n.Name)
			if err != nil {
				return err
			}
			have, err := Digests(ctx, h, paths)
			if err != nil {
				return fmt.Errorf("read staged files: %w", err)
			}
			mu.Lock()
			defer mu.Unlock()
			lack.add(n.Name, want, have)
			return nil
		})
	if err != nil {
		return err
	}
	return lack.orNil()
}

// LackingError says which nodes lack content that the bundle here does not hold: a patch bundle opened without its
// base relies on the nodes having staged that base. Its message names each node, how much it lacks and the first
// files, and the fix: the base bundle, by name and manifest digest, with --base.
type LackingError struct {
	Bundle *bundles.Bundle
	Hosts  map[string][]Staged // node -> the files it lacks
}

// add records the files of want that the node does not hold with the right sha256 (have: remote path -> sha256).
func (e *LackingError) add(host string, want []Staged, have map[string]string) {
	for _, f := range want {
		if have[f.Remote] != f.SHA256 && f.Local == "" {
			e.Hosts[host] = append(e.Hosts[host], f)
		}
	}
}

func (e *LackingError) orNil() error {
	if len(e.Hosts) == 0 {
		return nil
	}
	return e
}

// HostProblem describes what one node lacks, for a check's problem line.
func (e *LackingError) HostProblem(host string) string {
	files := e.Hosts[host]
	var size int64
	for _, f := range files {
		size += f.Size
	}
	const show = 3
	var names []string
	for _, f := range files[:min(show, len(files))] {
		names = append(names, f.Path)
	}
	more := ""
	if len(files) > show {
		more = fmt.Sprintf(" and %d more", len(files)-show)
	}
	return fmt.Sprintf("lacks %d files (%s) that patch bundle %s takes from its base and does not carry: %s%s",
		len(files), HumanBytes(size), e.Bundle.Path, strings.Join(names, ", "), more)
}

// Fix says how to give the nodes what they lack.
func (e *LackingError) Fix() string {
	return fmt.Sprintf("pass the base bundle with --base (%s); staging sends each node only what it lacks", e.Bundle.Manifest.Base)
}

func (e *LackingError) Error() string {
	hosts := make([]string, 0, len(e.Hosts))
	for h := range e.Hosts {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	var b strings.Builder
	fmt.Fprintf(&b, "%d hosts lack content the patch bundle does not carry, and its base is not given:", len(hosts))
	for _, h := range hosts {
		fmt.Fprintf(&b, "\n - %s %s", h, e.HostProblem(h))
	}
	b.WriteString("\n   fix: " + e.Fix())
	return b.String()
}

// Needs returns what a node needs from the bundle by content, sha256 -> size: what FilesFor stages, without the
// cache. What two bundles' Needs share is staged once.
func (c *Content) Needs(n Node) (map[string]int64, error) {
	files, set := c.bundleFiles(n)
	out := make(map[string]int64, len(files)+1)
	for _, f := range files {
		out[f.SHA256] = f.Size
	}
	if n.NoNode {
		return out, nil
	}
	ix, err := c.Bundle.Manifest.OCIIndex(set.Images)
	if err != nil {
		return nil, err
	}
	out[SHA256(ix)] = int64(len(ix))
	return out, nil
}

// Moves returns, for a node that holds what base gave it, how many bytes of next's content it needs (whole) and
// how many of those it lacks (move): what staging next sends it. pulled is as Content.Pulled.
func Moves(base, next *bundles.Bundle, n Node, pulled []string) (move, whole int64, err error) {
	had, err := (&Content{Bundle: base, Pulled: pulled}).Needs(n)
	if err != nil {
		return 0, 0, err
	}
	needs, err := (&Content{Bundle: next, Pulled: pulled}).Needs(n)
	if err != nil {
		return 0, 0, err
	}
	for sum, size := range needs {
		whole += size
		if _, ok := had[sum]; !ok {
			move += size
		}
	}
	return move, whole, nil
}

// bundleFiles lists the bundle's files a node needs, and its image set.
func (c *Content) bundleFiles(n Node) ([]bundles.File, ImageSet) {
	m := c.Bundle.Manifest
	var out []bundles.File
	if n.Registry {
		for _, f := range FilesOf(m, bundles.KindFile) {
			if strings.HasPrefix(f.Path, RegistryFiles) {
				out = append(out, f)
			}
		}
	}
	if n.NoNode {
		for _, p := range m.Packages {
			if slices.Contains(n.Packages, p.Name) {
				if f, ok := m.FileByPath(p.Path); ok {
					out = append(out, f)
				}
			}
		}
		return out, ImageSet{}
	}
	out = append(out, FilesOf(m, bundles.KindPackage, bundles.KindCNI)...)
	for _, f := range FilesOf(m, bundles.KindBinary) {
		if path.Base(f.Path) == "etcdctl" && !n.ControlPlane {
			continue
		}
		out = append(out, f)
	}
	set := c.SetFor(n)
	for _, d := range set.Blobs() {
		if f, ok := m.FileByPath(bundles.BlobPath(d)); ok {
			out = append(out, f)
		}
	}
	return out, set
}

// NodeNames returns the names of the nodes, in order.
func (c *Content) NodeNames() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Name
	}
	return out
}

func (c *Content) node(name string) Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return Node{Name: name}
}

// PackageClosure returns the bundle's packages that hosts need to install names: each named package and, through
// their Depends, every package of the bundle they need. A dependency that no package of the bundle satisfies is
// the base system's (the bundle was resolved against it). It fails on a name the bundle lacks, and on a bundle
// built before packages recorded their dependencies.
func PackageClosure(m *bundles.Manifest, names ...string) ([]bundles.Package, error) {
	byName := map[string]bundles.Package{}
	recorded := false
	for _, p := range m.Packages {
		byName[p.Name] = p
		recorded = recorded || len(p.Depends) > 0
	}
	if !recorded && len(m.Packages) > 0 {
		return nil, fmt.Errorf("bundle %s %s records no package dependencies: rebuild it with this berth (berth bundle build)", m.Name, m.Version)
	}
	seen := map[string]bool{}
	var out []bundles.Package
	var visit func(name string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		p := byName[name]
		out = append(out, p)
		for _, dep := range p.Depends {
			for _, alt := range strings.Split(dep, "|") {
				if _, ok := byName[alt]; ok {
					visit(alt)
					break
				}
			}
		}
	}
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("bundle %s %s has no package %s", m.Name, m.Version, n)
		}
		visit(n)
	}
	slices.SortFunc(out, func(a, b bundles.Package) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
