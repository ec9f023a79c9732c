package airgap

import (
	"context"
	"path"
	"path/filepath"
	"sync"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/remote"
)

// Node is a host that bundle content goes to. A control plane also gets the control-plane images and etcdctl.
type Node struct {
	Name         string
	ControlPlane bool
}

// Content is one bundle's content and the nodes it goes to: what the Stage and Images phases of an action move.
type Content struct {
	Bundle   *bundles.Bundle
	CacheDir string // base of the local cache; the bundle's manifest digest names its directory
	Nodes    []Node
	Host     func(name string) (remote.Host, error) // the connection to a node
	Relays   *Relays                                // nodes pass content on to each other; nil: all from here

	once  sync.Once
	cache *Cache
	err   error

	setsOnce       sync.Once
	cpSet, nodeSet ImageSet
}

// Cache extracts the bundle on this machine the first time it is asked, and returns the cache.
func (c *Content) Cache(ctx context.Context) (*Cache, error) {
	c.once.Do(func() { c.cache, c.err = PrepareCache(ctx, c.Bundle, c.CacheDir) })
	return c.cache, c.err
}

// Staged is one file copied from the bundle to a host's stage directory.
type Staged struct {
	Local  string // on the machine running berth
	Remote string // on the host
	SHA256 string
	Size   int64
}

// SetFor returns the image set a node needs.
func (c *Content) SetFor(n Node) ImageSet {
	c.setsOnce.Do(func() { c.cpSet, c.nodeSet = ImageSets(c.Bundle.Manifest) })
	if n.ControlPlane {
		return c.cpSet
	}
	return c.nodeSet
}

// FilesFor lists what a node needs from the bundle, as files of the cache to stage: packages, CNI plugins, binaries
// (etcdctl on control planes only), and its image set: every blob (manifest, config, layers), each once, and the
// set's index.
func (c *Content) FilesFor(cache *Cache, n Node) []Staged {
	files, set := c.bundleFiles(n)
	out := make([]Staged, 0, len(files)+1)
	for _, f := range files {
		out = append(out, Staged{Local: filepath.Join(cache.Dir, filepath.FromSlash(f.Path)), Remote: StagePath(f.SHA256), SHA256: f.SHA256, Size: f.Size})
	}
	ix := cache.Indexes[set.Name]
	return append(out, Staged{Local: ix.Path, Remote: StagePath(ix.SHA256), SHA256: ix.SHA256, Size: ix.Size})
}

// Needs returns what a node needs from the bundle by content, sha256 -> size: what FilesFor stages, without the
// cache. What two bundles' Needs share is staged once.
func (c *Content) Needs(n Node) (map[string]int64, error) {
	files, set := c.bundleFiles(n)
	out := make(map[string]int64, len(files)+1)
	for _, f := range files {
		out[f.SHA256] = f.Size
	}
	ix, err := c.Bundle.Manifest.OCIIndex(set.Images)
	if err != nil {
		return nil, err
	}
	out[SHA256(ix)] = int64(len(ix))
	return out, nil
}

// Moves returns, for a node that holds what base gave it, how many bytes of next's content it needs (whole) and
// how many of those it lacks (move): what staging next sends it.
func Moves(base, next *bundles.Bundle, n Node) (move, whole int64, err error) {
	had, err := (&Content{Bundle: base}).Needs(n)
	if err != nil {
		return 0, 0, err
	}
	needs, err := (&Content{Bundle: next}).Needs(n)
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
	out := FilesOf(m, bundles.KindPackage, bundles.KindCNI)
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
