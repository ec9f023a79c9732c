package installer

import (
	"context"
	"fmt"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// Bundle images of the local-path class (by repository name, as airgap.ImageRef finds them).
const (
	localPathImage       = "local-path-provisioner"
	localPathHelperImage = "busybox"
)

// installStorage applies the cluster's storage classes from the bundle: the local-path class (local-path-provisioner,
// volumes in a directory of each node's disk), the default class unless the inventory names another. The nodes
// phase after it waits until the provisioner runs.
type installStorage struct{ addOn }

func (p *installStorage) Title() string { return "Install the storage classes (local-path)" }
func (p *installStorage) Name() string  { return "storage" }

// localPathOn reports whether the inventory runs the local-path class.
func localPathOn(inv *inventory.Inventory) bool {
	st := inv.Storage
	return st != nil && st.LocalPath != nil && (st.LocalPath.Enabled == nil || *st.LocalPath.Enabled)
}

// Storage returns the phase that applies the storage classes from the cluster's bundle: the install's, and the
// upgrade's add-on step.
func Storage(c *Cluster) phase.Phase {
	return &installStorage{addOn{c: c, what: "apply the local-path provisioner and its StorageClass"}}
}

// CheckStorageImages refuses, before any host is touched, an install or upgrade whose bundle lacks the images of
// the storage classes the inventory runs.
func CheckStorageImages(inv *inventory.Inventory, m *bundles.Manifest) error {
	if !localPathOn(inv) {
		return nil
	}
	for _, name := range []string{localPathImage, localPathHelperImage} {
		if _, err := airgap.ImageRef(m, name); err != nil {
			return fmt.Errorf("storage.localPath: %w (the lab specs' local-path-provisioner, local-path-image and local-path-helper-image "+
				"sources add it), or set storage.localPath.enabled: false", err)
		}
	}
	return nil
}

func (p *installStorage) Prepare(ctx context.Context) error {
	inv := p.c.Inv
	if !localPathOn(inv) {
		return nil
	}
	image, err := airgap.ImageRef(p.c.Bundle.Manifest, localPathImage)
	if err != nil {
		return err
	}
	helper, err := airgap.ImageRef(p.c.Bundle.Manifest, localPathHelperImage)
	if err != nil {
		return err
	}
	y, err := manifests.LocalPathManifests(manifests.LocalPath{Image: image, HelperImage: helper,
		Class: inventory.LocalPathClass, Path: inv.Storage.LocalPath.Path,
		Default: inv.Storage.DefaultClass == inventory.LocalPathClass, PullPolicy: p.c.pullPolicy(image, helper)})
	if err != nil {
		return err
	}
	return p.diff(ctx, y)
}
