package bundles

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Well-known names inside a bundle.
const (
	// ManifestPath is the first entry of every bundle.
	ManifestPath = "manifest.yaml"
	// SignaturePath is the second entry of a signed bundle: an ed25519 signature over manifest.yaml's bytes.
	SignaturePath = "manifest.yaml.sig"
	// ImagesDir holds one OCI image layout shared by every image of the bundle.
	ImagesDir = "images/"
	// APIVersion is the manifest schema version this package reads and writes.
	APIVersion = "bundle.berth.sh/v1alpha1"
	// ManifestKind is the kind of a bundle manifest.
	ManifestKind = "BundleManifest"
	// maxManifestSize bounds what verify reads into memory for manifest.yaml.
	maxManifestSize = 64 << 20
)

// FileKind says what a file in the bundle is for.
type FileKind string

// File kinds.
const (
	KindBinary     FileKind = "binary"      // bin/: host binaries (kubeadm, kubelet, kubectl)
	KindCNI        FileKind = "cni"         // bin/cni/: CNI plugin binaries for /opt/cni/bin
	KindImageBlob  FileKind = "image-blob"  // images/blobs/sha256/
	KindImageIndex FileKind = "image-index" // images/index.json and images/oci-layout
	KindPackage    FileKind = "package"     // packages/<distro>/*.deb
	KindChart      FileKind = "chart"       // charts/*.tgz
	KindFile       FileKind = "file"        // files/: anything else a spec ships
)

// Manifest describes every byte of a bundle. It is the signed part: a bundle is trusted exactly as far as its
// manifest's signature and the digests it lists.
type Manifest struct {
	APIVersion        string      `yaml:"apiVersion" json:"apiVersion"`
	Kind              string      `yaml:"kind" json:"kind"`
	Name              string      `yaml:"name" json:"name"`
	Version           string      `yaml:"version" json:"version"`
	Base              *BaseRef    `yaml:"base,omitempty" json:"base,omitempty"` // a patch bundle's base; nil: a full bundle
	KubernetesVersion string      `yaml:"kubernetesVersion" json:"kubernetesVersion"`
	Target            Target      `yaml:"target" json:"target"`
	Components        []Component `yaml:"components" json:"components"`
	Images            []Image     `yaml:"images" json:"images"`
	Packages          []Package   `yaml:"packages" json:"packages"`
	Charts            []Chart     `yaml:"charts" json:"charts"`
	Files             []File      `yaml:"files" json:"files"`
	Provenance        Provenance  `yaml:"provenance" json:"provenance"`
}

// BaseRef names the base of a patch bundle. A patch's manifest lists every file of the full release, but its
// archive carries only the files whose sha256 the base's manifest does not list; the rest is read from the base.
type BaseRef struct {
	// ManifestDigest is "sha256:<hex>" of the base's manifest.yaml: its identity, checked before anything is read.
	ManifestDigest string `yaml:"manifestDigest" json:"manifestDigest"`
	// Name and Version are the base's, to tell a person which bundle to bring.
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
}

// String writes the base as "lab v1.31.4-berth.1 (manifest sha256:...)".
func (r BaseRef) String() string {
	return r.Name + " " + r.Version + " (manifest " + r.ManifestDigest + ")"
}

// Target is the platform a bundle installs onto.
type Target struct {
	OS     string `yaml:"os" json:"os"`
	Arch   string `yaml:"arch" json:"arch"`
	Distro string `yaml:"distro" json:"distro"` // e.g. debian-12: the directory under packages/
}

// String writes the target as "linux/amd64 debian-12".
func (t Target) String() string { return t.OS + "/" + t.Arch + " " + t.Distro }

// Component is one piece of software in the bundle and where it came from.
type Component struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	// Source says how it was obtained, e.g. "go k8s.io/kubernetes@v1.31.4" or "oci registry.example/x@sha256:...".
	Source string `yaml:"source" json:"source"`
	// Note explains a deliberate difference, e.g. an image tagged with another version than the one built.
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
}

// Image is one image in the bundle's OCI layout.
type Image struct {
	Name      string   `yaml:"name" json:"name"`
	Refs      []string `yaml:"refs" json:"refs"`           // every reference the image is tagged with
	Digest    string   `yaml:"digest" json:"digest"`       // digest of the image manifest
	MediaType string   `yaml:"mediaType" json:"mediaType"` // media type of the image manifest
	Config    string   `yaml:"config" json:"config"`       // digest of the config blob
	Layers    []string `yaml:"layers" json:"layers"`       // digests of the layer blobs, in order
	Size      int64    `yaml:"size" json:"size"`           // manifest + config + layers, in bytes
	Component string   `yaml:"component,omitempty" json:"component,omitempty"`
}

// Blobs returns every blob digest the image needs: manifest, config, then layers.
func (im Image) Blobs() []string {
	return append([]string{im.Digest, im.Config}, im.Layers...)
}

// Package is one OS package (a .deb) in the bundle.
type Package struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	Arch    string `yaml:"arch" json:"arch"`
	Path    string `yaml:"path" json:"path"`
	SHA256  string `yaml:"sha256" json:"sha256"`
	Size    int64  `yaml:"size" json:"size"`
	// Requested is true for packages the spec names; false for dependencies pulled in to complete them.
	Requested bool `yaml:"requested" json:"requested"`
	// Depends are the package's Pre-Depends and Depends, by name, without versions: one entry per dependency,
	// alternatives joined with "|". A host that needs some of the bundle's packages gets their closure among the
	// bundle's packages (the rest the base system has).
	Depends []string `yaml:"depends,omitempty" json:"depends,omitempty"`
}

// Chart is one packaged Helm chart in the bundle.
type Chart struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	Path    string `yaml:"path" json:"path"`
	SHA256  string `yaml:"sha256" json:"sha256"`
	Size    int64  `yaml:"size" json:"size"`
}

// File is one entry of the bundle's tar archive other than the manifest and its signature.
type File struct {
	Path      string   `yaml:"path" json:"path"`
	Size      int64    `yaml:"size" json:"size"`
	SHA256    string   `yaml:"sha256" json:"sha256"`
	Mode      FileMode `yaml:"mode" json:"mode"`
	Kind      FileKind `yaml:"kind" json:"kind"`
	Component string   `yaml:"component,omitempty" json:"component,omitempty"`
}

// Provenance records how the bundle was made. BuildTime is the only field that changes between two builds of
// the same spec (unless SOURCE_DATE_EPOCH fixes it).
type Provenance struct {
	SpecName   string    `yaml:"specName" json:"specName"`
	SpecDigest string    `yaml:"specDigest" json:"specDigest"` // sha256 of the spec file's bytes
	Builder    string    `yaml:"builder" json:"builder"`       // berth version that built it
	GoVersion  string    `yaml:"goVersion" json:"goVersion"`   // Go toolchain that compiled the binaries
	BuildTime  time.Time `yaml:"buildTime" json:"buildTime"`
}

// FileMode is a permission mode written in octal ("0755") in the manifest.
type FileMode uint32

// String formats the mode in octal.
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalYAML writes the mode as an octal string.
func (m FileMode) MarshalYAML() (any, error) { return m.String(), nil }

// UnmarshalYAML reads an octal string.
func (m *FileMode) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.ParseUint(n.Value, 8, 32)
	if err != nil || v > 0o7777 {
		return fmt.Errorf("line %d: mode %q is not an octal permission like 0644", n.Line, n.Value)
	}
	*m = FileMode(v)
	return nil
}

// MarshalJSON writes the mode as an octal string.
func (m FileMode) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(m.String())), nil }

// ParseManifest decodes manifest bytes strictly (unknown fields are errors) and checks that the manifest is
// internally consistent.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Marshal encodes the manifest as YAML; the bytes are what gets signed.
func (m *Manifest) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// FileByPath returns the manifest's entry for a bundle path.
func (m *Manifest) FileByPath(p string) (File, bool) {
	i := sort.Search(len(m.Files), func(i int) bool { return m.Files[i].Path >= p })
	if i < len(m.Files) && m.Files[i].Path == p {
		return m.Files[i], true
	}
	return File{}, false
}

// Image returns the image tagged with ref (or named name).
func (m *Manifest) Image(ref string) (Image, bool) {
	for _, im := range m.Images {
		if im.Name == ref {
			return im, true
		}
		for _, r := range im.Refs {
			if r == ref {
				return im, true
			}
		}
	}
	return Image{}, false
}

// TotalSize is the sum of all file sizes: the uncompressed payload of the bundle.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// BlobPath is where a blob with the given digest lives in the bundle.
func BlobPath(digest string) string {
	return ImagesDir + "blobs/" + strings.Replace(digest, ":", "/", 1)
}

// validPath reports whether p is a clean, relative, slash-separated path that stays inside the bundle.
func validPath(p string) bool {
	return p != "" && p == path.Clean(p) && !path.IsAbs(p) && p != "." && !strings.HasPrefix(p, "../") &&
		p != ".." && !strings.Contains(p, "\\") && p != ManifestPath && p != SignaturePath
}
