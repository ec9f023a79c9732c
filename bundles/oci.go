package bundles

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Annotations written on every index.json descriptor. containerd's importer (ctr images import, also in 1.6)
// names images by io.containerd.image.name; other OCI tools read org.opencontainers.image.ref.name.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// OCILayoutFile is the content of the oci-layout marker file.
const OCILayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// OCIIndex returns the index.json that tags the given images of m: one descriptor per ref, sorted by ref, so the
// same images always give the same bytes.
func (m *Manifest) OCIIndex(images []Image) ([]byte, error) {
	idx := ociIndex{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []ociDescriptor{}}
	for _, im := range images {
		f, ok := m.FileByPath(BlobPath(im.Digest))
		if !ok {
			return nil, fmt.Errorf("image %s: manifest blob %s is not in the bundle", im.Name, im.Digest)
		}
		for _, r := range im.Refs {
			idx.Manifests = append(idx.Manifests, ociDescriptor{MediaType: im.MediaType, Digest: im.Digest, Size: f.Size,
				Annotations: map[string]string{AnnotationImageName: r, AnnotationRefName: r}})
		}
	}
	sort.Slice(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[AnnotationImageName] < idx.Manifests[j].Annotations[AnnotationImageName]
	})
	out, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode OCI index: %w", err)
	}
	return append(out, '\n'), nil
}
