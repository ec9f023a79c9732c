package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthsh/berth/bundles"
)

// controlPlaneImages are the images only control planes run (static pods); every node runs the others.
var controlPlaneImages = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}

// repoName returns the last path element of an image reference without tag or digest: "registry.k8s.io/etcd:3.5.15-0" -> "etcd".
func repoName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.Index(ref, ":"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// imageSet names the images a group of hosts needs.
type imageSet struct {
	Name   string          // "control-plane" or "node"
	Images []bundles.Image // the images
}

// Refs returns every reference of the set's images.
func (s imageSet) Refs() []string {
	var out []string
	for _, im := range s.Images {
		out = append(out, im.Refs...)
	}
	return out
}

// imageSets splits the bundle's images into what control planes need (all) and what other nodes need.
func imageSets(m *bundles.Manifest) (controlPlane, node imageSet) {
	controlPlane.Name, node.Name = "control-plane", "node"
	for _, im := range m.Images {
		controlPlane.Images = append(controlPlane.Images, im)
		cpOnly := false
		for _, ref := range im.Refs {
			for _, name := range controlPlaneImages {
				if repoName(ref) == name {
					cpOnly = true
				}
			}
		}
		if !cpOnly {
			node.Images = append(node.Images, im)
		}
	}
	return controlPlane, node
}

// imageRef returns the first reference of the bundle's image whose repository is named name ("pause", "flannel").
func imageRef(m *bundles.Manifest, name string) (string, error) {
	for _, im := range m.Images {
		for _, ref := range im.Refs {
			if repoName(ref) == name {
				return ref, nil
			}
		}
	}
	return "", fmt.Errorf("the bundle has no %s image (bundle %s %s): rebuild it from a spec that includes one", name, m.Name, m.Version)
}

// filesOf returns the bundle's files of some kinds.
func filesOf(m *bundles.Manifest, kinds ...bundles.FileKind) []bundles.File {
	var out []bundles.File
	for _, f := range m.Files {
		for _, k := range kinds {
			if f.Kind == k {
				out = append(out, f)
			}
		}
	}
	return out
}

// localCache holds what was extracted from one bundle on the machine running berth.
type localCache struct {
	Dir      string
	Archives map[string]archive // image set name -> archive
}

type archive struct {
	Path   string
	SHA256 string
	Size   int64
}

// prepareCache extracts the host files of the bundle and writes one image archive per image set, once per bundle:
// a second install with the same bundle reuses them.
func (c *Cluster) prepareCache(ctx context.Context) (*localCache, error) {
	dir := filepath.Join(c.CacheDir, strings.TrimPrefix(c.Bundle.ManifestDigest, "sha256:"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := c.Bundle.Extract(ctx, dir, bundles.Filter{Kinds: []bundles.FileKind{bundles.KindBinary, bundles.KindCNI, bundles.KindPackage}}); err != nil {
		return nil, fmt.Errorf("extract bundle: %w", err)
	}
	lc := &localCache{Dir: dir, Archives: map[string]archive{}}
	cp, node := imageSets(c.Bundle.Manifest)
	for _, set := range []imageSet{cp, node} {
		a, err := c.imageArchive(ctx, dir, set)
		if err != nil {
			return nil, err
		}
		lc.Archives[set.Name] = a
	}
	return lc, nil
}

func (c *Cluster) imageArchive(ctx context.Context, dir string, set imageSet) (archive, error) {
	p := filepath.Join(dir, "images-"+set.Name+".tar")
	if b, err := os.ReadFile(p + ".sha256"); err == nil {
		if st, err := os.Stat(p); err == nil {
			return archive{Path: p, SHA256: strings.TrimSpace(string(b)), Size: st.Size()}, nil
		}
	}
	tmp, err := os.CreateTemp(dir, ".images-*")
	if err != nil {
		return archive{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	err = c.Bundle.WriteImageArchive(ctx, io.MultiWriter(tmp, h), set.Refs()...)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return archive{}, fmt.Errorf("write %s image archive: %w", set.Name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), p); err != nil {
		return archive{}, err
	}
	if err := os.WriteFile(p+".sha256", []byte(sum+"\n"), 0o600); err != nil {
		return archive{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return archive{}, err
	}
	return archive{Path: p, SHA256: sum, Size: st.Size()}, nil
}
