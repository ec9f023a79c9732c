package airgap

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ArchiveImage is one image of an archive that crossed the gap, and every reference it is named by.
type ArchiveImage struct {
	Refs   []string `json:"refs"`
	Digest string   `json:"digest"`
}

// Archive is an image archive read for pushing: a docker archive (docker save, podman save, skopeo copy
// docker-archive:) or an OCI image layout directory whose manifests name full references
// (org.opencontainers.image.ref.name).
type Archive struct {
	Path   string
	Images []ArchiveImage
	items  []pushable
}

// refNameAnnotation names an image of an OCI layout.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// maxArchiveIndex bounds what is read of an archive before its images: a docker archive's manifest.json, an OCI
// layout's index.json. Real ones are a few KiB per image.
const maxArchiveIndex = 4 << 20

// OpenArchive reads an archive's index (not its layers, which are read while pushing). An archive with no named
// image, or an OCI layout whose names are bare tags, is refused with what to do.
func OpenArchive(path string) (*Archive, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	a := &Archive{Path: path}
	if st.IsDir() {
		err = a.readLayout()
	} else {
		err = a.readDockerArchive()
	}
	if err != nil {
		return nil, fmt.Errorf("image archive %s: %w", path, err)
	}
	if len(a.Images) == 0 {
		return nil, fmt.Errorf("image archive %s names no image: save it with its names (docker save NAME:TAG -o FILE)", path)
	}
	return a, nil
}

func (a *Archive) add(ref string, digest v1.Hash, read func() (remote.Taggable, error)) error {
	if _, err := name.ParseReference(ref, name.StrictValidation); err != nil {
		return fmt.Errorf("image name %q: %w (name images in full: registry/repository:tag)", ref, err)
	}
	for i := range a.Images {
		if a.Images[i].Digest == digest.String() {
			if !slices.Contains(a.Images[i].Refs, ref) {
				a.Images[i].Refs = append(a.Images[i].Refs, ref)
				a.items[i].refs = a.Images[i].Refs
			}
			return nil
		}
	}
	a.Images = append(a.Images, ArchiveImage{Refs: []string{ref}, Digest: digest.String()})
	a.items = append(a.items, pushable{name: ref, digest: digest.String(), refs: []string{ref}, read: read})
	return nil
}

func (a *Archive) readDockerArchive() error {
	if err := checkDockerManifest(a.Path); err != nil {
		return err
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(a.Path) })
	if err != nil {
		return fmt.Errorf("not a docker archive (docker save) nor an OCI layout directory: %w", err)
	}
	for _, d := range m {
		for _, tag := range d.RepoTags {
			t, err := name.NewTag(tag, name.StrictValidation)
			if err != nil {
				return fmt.Errorf("image name %q: %w", tag, err)
			}
			img, err := tarball.ImageFromPath(a.Path, &t)
			if err != nil {
				return err
			}
			h, err := img.Digest()
			if err != nil {
				return err
			}
			if err := a.add(tag, h, func() (remote.Taggable, error) { return tarball.ImageFromPath(a.Path, &t) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Archive) readLayout() error {
	if _, err := os.Stat(filepath.Join(a.Path, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		return errors.New("a directory without an oci-layout file is not an OCI image layout")
	}
	if st, err := os.Stat(filepath.Join(a.Path, "index.json")); err != nil {
		return err
	} else if st.Size() > maxArchiveIndex {
		return fmt.Errorf("index.json is %d bytes, more than the %d an image layout's index can be", st.Size(), maxArchiveIndex)
	}
	lp, err := layout.FromPath(a.Path)
	if err != nil {
		return err
	}
	ix, err := lp.ImageIndex()
	if err != nil {
		return err
	}
	im, err := ix.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		ref := d.Annotations[refNameAnnotation]
		if ref == "" {
			continue
		}
		if _, err := name.ParseReference(ref, name.StrictValidation); err != nil {
			return fmt.Errorf("image %s is named %q, not a full reference: name it registry/repository:tag when copying it into the layout", d.Digest, ref)
		}
		h := d.Digest
		read := func() (remote.Taggable, error) { return lp.Image(h) }
		if d.MediaType.IsIndex() {
			read = func() (remote.Taggable, error) {
				ix, err := lp.ImageIndex()
				if err != nil {
					return nil, err
				}
				return ix.ImageIndex(h)
			}
		}
		if err := a.add(ref, h, read); err != nil {
			return err
		}
	}
	return nil
}

// PushArchive pushes every image of the archive, under each of its names (MirrorRef), to every replica, sending only
// the blobs a replica lacks, and reads every digest back.
func PushArchive(ctx context.Context, a *Archive, replicas []Replica) ([]ReplicaPush, error) {
	return pushAll(ctx, a.items, replicas, func(err error) error { return err })
}

// checkDockerManifest finds the archive's manifest.json and refuses one larger than maxArchiveIndex, before the
// archive reader decodes it whole.
func checkDockerManifest(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("not a docker archive (docker save) nor an OCI layout directory: no manifest.json (%w)", err)
		}
		if path := strings.TrimPrefix(h.Name, "./"); path == "manifest.json" {
			if h.Size > maxArchiveIndex {
				return fmt.Errorf("manifest.json is %d bytes, more than the %d a docker archive's manifest can be", h.Size, maxArchiveIndex)
			}
			return nil
		}
	}
}
