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

// FilesFor lists what a node needs from the bundle: packages, CNI plugins, binaries (etcdctl on control planes
// only) and its image set's archive.
func (c *Content) FilesFor(cache *Cache, n Node) []Staged {
	m := c.Bundle.Manifest
	var out []Staged
	add := func(f bundles.File) {
		out = append(out, Staged{Local: filepath.Join(cache.Dir, filepath.FromSlash(f.Path)), Remote: StagePath(f.SHA256), SHA256: f.SHA256, Size: f.Size})
	}
	for _, f := range FilesOf(m, bundles.KindPackage, bundles.KindCNI) {
		add(f)
	}
	for _, f := range FilesOf(m, bundles.KindBinary) {
		if path.Base(f.Path) == "etcdctl" && !n.ControlPlane {
			continue
		}
		add(f)
	}
	set := c.SetFor(n).Name
	a := cache.Archives[set]
	out = append(out, Staged{Local: a.Path, Remote: StagePath(a.SHA256), SHA256: a.SHA256, Size: a.Size})
	return out
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
