package airgap

import (
	"fmt"
	"path"
	"slices"
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

// sandboxImage is the image of every pod's sandbox, which the kubelet needs before any pod, a registry's client
// included, can start.
const sandboxImage = "pause"

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

// ImageSets splits the bundle's images into what control planes import (all) and what other nodes import (all but
// the static pods'). Images named after an upstream in pulled are served by a System registry that nodes pull
// through: nodes import only what they run before a registry could serve them, the static pods' images on control
// planes and the sandbox image everywhere, and pull the rest (kube-proxy, the CNI, the DNS add-on) when a pod needs
// it, so that a worker never holds the DNS add-on's images, which run on control planes only. The sets' names say
// which split they are: a cache holds the index of each.
func ImageSets(m *bundles.Manifest, pulled []string) (controlPlane, node ImageSet) {
	controlPlane.Name, node.Name = "control-plane", "node"
	if len(pulled) > 0 {
		controlPlane.Name, node.Name = "control-plane-local", "node-local"
	}
	for _, im := range m.Images {
		if isPulled(im, pulled) {
			continue
		}
		controlPlane.Images = append(controlPlane.Images, im)
		if !slices.ContainsFunc(im.Refs, func(ref string) bool { return slices.Contains(controlPlaneImages, RepoName(ref)) }) {
			node.Images = append(node.Images, im)
		}
	}
	return controlPlane, node
}

// isPulled reports whether nodes pull im from a registry rather than import it: every reference of it is
// PulledRef.
func isPulled(im bundles.Image, pulled []string) bool {
	return len(im.Refs) > 0 && !slices.ContainsFunc(im.Refs, func(ref string) bool { return !PulledRef(ref, pulled) })
}

// PulledRef reports whether nodes pull the image ref from the System registry, which serves the upstreams in
// pulled: it is no static pod's and not the sandbox image (those are imported), and its upstream is in pulled.
func PulledRef(ref string, pulled []string) bool {
	if name := RepoName(ref); name == sandboxImage || slices.Contains(controlPlaneImages, name) {
		return false
	}
	u, err := UpstreamOf(ref)
	return err == nil && slices.Contains(pulled, u)
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
