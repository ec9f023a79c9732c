package manifests

import (
	"fmt"
	"path"
)

// Where the local-path provisioner lives in the cluster.
const (
	LocalPathNamespace   = "berth-local-path"
	LocalPathProvisioner = "berth.sh/local-path"
)

// LocalPath is the input of the local-path class's manifests.
type LocalPath struct {
	Image       string // the provisioner's image from the bundle
	HelperImage string // the helper pods' image (busybox) from the bundle
	Class       string // the StorageClass's name
	Path        string // directory on every node under which volumes live
	Default     bool   // the cluster's default StorageClass
	PullPolicy  string // the pods' imagePullPolicy (PullPolicy); "" for Never
}

// LocalPathManifests renders the Kubernetes objects of the local-path class as multi-document YAML.
func LocalPathManifests(l LocalPath) ([]byte, error) {
	if l.Image == "" || l.HelperImage == "" {
		return nil, fmt.Errorf("local-path: the provisioner's and the helper's images are both needed")
	}
	if !path.IsAbs(l.Path) || path.Clean(l.Path) != l.Path {
		return nil, fmt.Errorf("local-path: volume directory %q is not an absolute, clean path", l.Path)
	}
	data := struct {
		LocalPath
		Namespace, Provisioner string
	}{l, LocalPathNamespace, LocalPathProvisioner}
	data.PullPolicy = pullPolicy(l.PullPolicy)
	return render("local-path.yaml", data)
}
