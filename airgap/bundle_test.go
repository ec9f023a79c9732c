package airgap

import (
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
)

func TestImageSets(t *testing.T) {
	m := &bundles.Manifest{Images: []bundles.Image{
		{Name: "apiserver", Refs: []string{"registry.k8s.io/kube-apiserver:v1.31.4"}},
		{Name: "etcd", Refs: []string{"registry.k8s.io/etcd:3.5.15-0"}},
		{Name: "proxy", Refs: []string{"registry.k8s.io/kube-proxy:v1.31.4"}},
		{Name: "pause", Refs: []string{"registry.k8s.io/pause:3.10"}},
		{Name: "flannel", Refs: []string{"docker.io/flannel/flannel:v0.28.4"}},
	}}
	cp, node := ImageSets(m, nil)
	if len(cp.Images) != 5 || len(node.Images) != 3 || cp.Name != "control-plane" || node.Name != "node" {
		t.Fatalf("control plane %s %d images, node %s %d", cp.Name, len(cp.Images), node.Name, len(node.Images))
	}
	for _, ref := range node.Refs() {
		if strings.Contains(ref, "apiserver") || strings.Contains(ref, "etcd") {
			t.Errorf("node image set holds %s", ref)
		}
	}
	if ref, err := ImageRef(m, "pause"); err != nil || ref != "registry.k8s.io/pause:3.10" {
		t.Errorf("pause = %s, %v", ref, err)
	}
	if _, err := ImageRef(m, "coredns"); err == nil || !strings.Contains(err.Error(), "no coredns image") {
		t.Errorf("missing image: %v", err)
	}
}

// With a System registry serving an upstream, nodes import only what they run before it can: the static pods'
// images on control planes and the sandbox image; images of an upstream nobody mirrors stay imported.
func TestImageSetsPulled(t *testing.T) {
	m := &bundles.Manifest{Images: []bundles.Image{
		{Name: "apiserver", Refs: []string{"registry.k8s.io/kube-apiserver:v1.31.4"}},
		{Name: "etcd", Refs: []string{"registry.k8s.io/etcd:3.5.15-0"}},
		{Name: "proxy", Refs: []string{"registry.k8s.io/kube-proxy:v1.31.4"}},
		{Name: "pause", Refs: []string{"registry.k8s.io/pause:3.10"}},
		{Name: "dnsmasq", Refs: []string{"berth.sh/dnsmasq:2.90"}},
		{Name: "flannel", Refs: []string{"docker.io/flannel/flannel:v0.28.4"}},
		{Name: "two names", Refs: []string{"registry.k8s.io/coredns:v1.11.3", "docker.io/coredns/coredns:v1.11.3"}},
	}}
	cp, node := ImageSets(m, []string{"registry.k8s.io", "berth.sh"})
	names := func(s ImageSet) string {
		var out []string
		for _, im := range s.Images {
			out = append(out, im.Name)
		}
		return strings.Join(out, ",")
	}
	if got, want := names(cp), "apiserver,etcd,pause,flannel,two names"; got != want {
		t.Errorf("control planes import %s, want %s", got, want)
	}
	if got, want := names(node), "pause,flannel,two names"; got != want {
		t.Errorf("other nodes import %s, want %s", got, want)
	}
	if cp.Name != "control-plane-local" || node.Name != "node-local" {
		t.Errorf("set names %s and %s: a cache must hold them apart from the sets that import every image", cp.Name, node.Name)
	}
}
