package bundles

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// maxStructureBlob bounds the JSON documents (index.json, image manifests) kept in memory for the structure check.
const maxStructureBlob = 4 << 20

// contentCheck compares each tar entry against the manifest and collects every problem it finds.
type contentCheck struct {
	m        *Manifest
	seen     map[string]bool
	keep     map[string]bool   // paths whose content the structure check (or the caller) needs
	kept     map[string][]byte // their content, once verified
	problems []Problem
	last     string // the last listed entry, for the order check
	// For a patch bundle: where each file comes from, and the documents its verified base supplied, by base path.
	plan     *patchPlan
	baseKept map[string][]byte
	// withoutBase: a patch read without its base. Its entries are checked, the files it leaves to its base are not
	// looked for, and carried records each entry by its content.
	withoutBase bool
	carried     map[string]string // sha256 -> entry path
}

// newContentCheck prepares to check an archive against m, keeping the content of the paths in extra too.
func newContentCheck(m *Manifest, extra map[string]bool) *contentCheck {
	c := &contentCheck{m: m, seen: map[string]bool{}, keep: map[string]bool{}, kept: map[string][]byte{}}
	for p := range extra {
		c.keep[p] = true
	}
	for _, p := range structurePaths(m) {
		c.keep[p] = true
	}
	return c
}

// patchOf makes the check one of a patch's archive: it holds the files plan carries, and the documents the
// structure check needs that the base holds come from baseKept.
func (c *contentCheck) patchOf(plan *patchPlan, baseKept map[string][]byte) {
	c.plan, c.baseKept = plan, baseKept
}

// patchWithoutBase makes the check one of a patch's archive whose base is not here: every entry must be a file of
// the release with its listed content, and the rest is left to whoever holds the base's content.
func (c *contentCheck) patchWithoutBase() {
	c.withoutBase, c.carried = true, map[string]string{}
}

// structurePaths are the documents the structure check reads: the OCI index and every image manifest.
func structurePaths(m *Manifest) []string {
	if len(m.Images) == 0 {
		return nil
	}
	out := []string{ImagesDir + "index.json"}
	for _, im := range m.Images {
		out = append(out, BlobPath(im.Digest))
	}
	return out
}

func (c *contentCheck) add(file, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: file, Problem: fmt.Sprintf(format, args...)})
}

// entry checks one tar entry. It returns an error only when the archive itself is unreadable; content problems
// are collected so one run reports all of them.
func (c *contentCheck) entry(s *stream, h *tar.Header) error {
	name := h.Name
	switch {
	case name == ManifestPath || name == SignaturePath:
		c.add(name, "appears again later in the archive (only the first two entries may be %s and %s)", ManifestPath, SignaturePath)
		return nil
	case h.Typeflag != tar.TypeReg:
		c.add(name, "extra entry of tar type %q: bundles hold regular files only", string(h.Typeflag))
		return nil
	case c.seen[name]:
		c.add(name, "appears twice in the archive")
		return nil
	}
	c.seen[name] = true
	f, listed := c.m.FileByPath(name)
	if !listed {
		c.add(name, "extra file: not listed in %s (%d bytes)", ManifestPath, h.Size)
		return nil
	}
	if c.plan != nil && !c.plan.carries(name) {
		c.add(name, "carried by the patch although its base or another entry holds the same content (sha256 %s): a patch "+
			"carries each content its base lacks once; make it again with berth bundle delta", f.SHA256)
		return nil
	}
	if name < c.last {
		c.add(name, "out of order: after %s, but entries follow the order of the files in %s (write the bundle again with berth)", c.last, ManifestPath)
	} else {
		c.last = name
	}
	hash := sha256.New()
	var w io.Writer = hash
	var buf *bytes.Buffer
	if c.keep[name] && h.Size <= maxStructureBlob {
		buf = &bytes.Buffer{}
		w = io.MultiWriter(hash, buf)
	}
	n, err := io.Copy(w, s.read())
	if err != nil {
		return err
	}
	got := hex.EncodeToString(hash.Sum(nil))
	switch {
	case n != f.Size:
		c.add(name, "size mismatch: %s lists %d bytes, the archive holds %d", ManifestPath, f.Size, n)
	case got != f.SHA256:
		c.add(name, "sha256 mismatch: %s lists %s, the content is %s", ManifestPath, f.SHA256, got)
	default:
		if buf != nil {
			c.kept[name] = buf.Bytes()
		}
		if first, dup := c.carried[got]; c.withoutBase && dup {
			c.add(name, "carries the same content as %s (sha256 %s): a patch carries each content once; make it again with berth bundle delta", first, got)
		} else if c.withoutBase {
			c.carried[got] = name
		}
	}
	return nil
}

// done reports missing files and checks the OCI layout against the manifest's image list.
func (c *contentCheck) done() []Problem {
	for _, f := range c.m.Files {
		switch {
		case c.seen[f.Path], c.withoutBase:
		case c.plan == nil:
			c.add(f.Path, "missing: listed in %s but not in the archive", ManifestPath)
		case c.plan.carries(f.Path):
			c.add(f.Path, "missing: the patch must carry it (its base lacks sha256 %s) but does not; copy the patch again", f.SHA256)
		}
	}
	if c.plan != nil {
		// Documents the patch does not hold itself: from the base, or from the entry carrying the same content.
		for p := range c.keep {
			if ref, ok := c.plan.source[p]; ok && ref.base {
				c.kept[p] = c.baseKept[ref.path]
			} else if ok && ref.path != p {
				c.kept[p] = c.kept[ref.path]
			}
		}
	}
	// Without its base, a patch lacks most image documents; each blob is still named by its sha256 in the signed
	// manifest, and containerd checks every digest when it imports the images from the hosts' stage.
	if len(c.problems) == 0 && !c.withoutBase {
		c.checkImages()
	}
	sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].File < c.problems[j].File })
	return c.problems
}

// ociDescriptor and ociIndex are the parts of the OCI index and manifest documents the check reads.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType,omitempty"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	MediaType string          `json:"mediaType"`
	Config    ociDescriptor   `json:"config"`
	Layers    []ociDescriptor `json:"layers"`
}

// checkImages checks that index.json tags exactly the manifest's images and that each image manifest references
// exactly the config and layers the bundle manifest lists.
func (c *contentCheck) checkImages() {
	if len(c.m.Images) == 0 {
		return
	}
	indexPath := ImagesDir + "index.json"
	var idx ociIndex
	if err := json.Unmarshal(c.kept[indexPath], &idx); err != nil {
		c.add(indexPath, "not an OCI index: %v", err)
		return
	}
	want := map[string]string{} // ref -> digest
	for _, im := range c.m.Images {
		for _, r := range im.Refs {
			want[r] = im.Digest
		}
	}
	got := map[string]string{}
	for _, d := range idx.Manifests {
		ref := d.Annotations[AnnotationImageName]
		got[ref] = d.Digest
		if want[ref] != d.Digest {
			c.add(indexPath, "tags %s as %s, %s says %q", ref, d.Digest, ManifestPath, want[ref])
		}
	}
	for r, d := range want {
		if got[r] != d {
			c.add(indexPath, "does not tag %s (%s)", r, d)
		}
	}
	for _, im := range c.m.Images {
		p := BlobPath(im.Digest)
		var om ociManifest
		if err := json.Unmarshal(c.kept[p], &om); err != nil {
			c.add(p, "image manifest of %s does not parse: %v", im.Name, err)
			continue
		}
		layers := make([]string, len(om.Layers))
		for i, l := range om.Layers {
			layers[i] = l.Digest
		}
		if om.Config.Digest != im.Config || strings.Join(layers, ",") != strings.Join(im.Layers, ",") {
			c.add(p, "image manifest of %s references config %s and layers %v, %s lists %s and %v",
				im.Name, om.Config.Digest, layers, ManifestPath, im.Config, im.Layers)
		}
	}
}
