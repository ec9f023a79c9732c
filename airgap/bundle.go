package airgap

import (
	"fmt"
	"path"
	"strings"

	"github.com/berthsh/berth/bundles"
)

// Where bundle content lands on hosts.
const (
	StageDir  = "/var/lib/berth/stage" // bundle files staged on the host, by content: sha256/<hex>
	BinDir    = "/usr/local/bin"       // kubeadm, kubelet, kubectl, etcdctl
	CNIBinDir = "/opt/cni/bin"         // CNI plugins
)

// StagePath is where content with this sha256 (hex) is staged on hosts. Staging is content-addressed: the files
// of several bundles (an upgrade's hops, a release and its patch) live side by side, and a file two bundles share
// is staged, and sent, once.
func StagePath(sha256 string) string { return path.Join(StageDir, "sha256", sha256) }

// controlPlaneImages are the images only control planes run (static pods); every node runs the others.
var controlPlaneImages = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}

// RepoName returns the last path element of an image reference without tag or digest:
// "registry.k8s.io/etcd:3.5.15-0" -> "etcd".
func RepoName(ref string) string {
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

// ImageSet names the images a group of hosts needs.
type ImageSet struct {
	Name   string          // "control-plane" or "node"
	Images []bundles.Image // the images
}

// Refs returns every reference of the set's images.
func (s ImageSet) Refs() []string {
	var out []string
	for _, im := range s.Images {
		out = append(out, im.Refs...)
	}
	return out
}

// Blobs returns the digests of every blob the set's images need, each once, in the order the images list them.
func (s ImageSet) Blobs() []string {
	var out []string
	seen := map[string]bool{}
	for _, im := range s.Images {
		for _, d := range im.Blobs() {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// ImageSets splits the bundle's images into what control planes need (all) and what other nodes need.
func ImageSets(m *bundles.Manifest) (controlPlane, node ImageSet) {
	controlPlane.Name, node.Name = "control-plane", "node"
	for _, im := range m.Images {
		controlPlane.Images = append(controlPlane.Images, im)
		cpOnly := false
		for _, ref := range im.Refs {
			for _, name := range controlPlaneImages {
				if RepoName(ref) == name {
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

// ImageRef returns the first reference of the bundle's image whose repository is named name ("pause", "flannel").
func ImageRef(m *bundles.Manifest, name string) (string, error) {
	for _, im := range m.Images {
		for _, ref := range im.Refs {
			if RepoName(ref) == name {
				return ref, nil
			}
		}
	}
	return "", fmt.Errorf("the bundle has no %s image (bundle %s %s): rebuild it from a spec that includes one", name, m.Name, m.Version)
}

// FilesOf returns the bundle's files of some kinds.
func FilesOf(m *bundles.Manifest, kinds ...bundles.FileKind) []bundles.File {
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

// HumanBytes formats a byte count for people: "1.5 GiB".
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
