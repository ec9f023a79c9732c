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
	cp, node := ImageSets(m)
	if len(cp.Images) != 5 || len(node.Images) != 3 {
		t.Fatalf("control plane %d images, node %d", len(cp.Images), len(node.Images))
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
