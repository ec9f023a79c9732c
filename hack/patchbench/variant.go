package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/berthsh/berth/bundles"
)

// variant is a release made from a base bundle by changing some of its content: what a patch of the base would be
// for when one component is rebuilt. Only the changed files' content is held (in memory).
type variant struct {
	base     *bundles.Bundle
	m        *bundles.Manifest
	content  map[string][]byte // new content by bundle path
	original map[string][]byte // the base's content of the files being changed
}

// newVariant copies base's manifest and reads the base's content of the given paths, which will change.
func newVariant(ctx context.Context, base *bundles.Bundle, paths ...string) (*variant, error) {
	m := *base.Manifest
	m.Files = append([]bundles.File{}, base.Manifest.Files...)
	m.Images = append([]bundles.Image{}, base.Manifest.Images...)
	m.Packages = append([]bundles.Package{}, base.Manifest.Packages...)
	m.Version += "-variant"
	v := &variant{base: base, m: &m, content: map[string][]byte{}, original: map[string][]byte{}}
	err := base.Walk(ctx, bundles.Filter{Paths: paths}, func(f bundles.File, r io.Reader) error {
		data, err := io.ReadAll(r)
		v.original[f.Path] = data
		return err
	})
	return v, err
}

// rebuilt is data as a rebuild of the same component might make it: the same size, compressing as well, with
// bytes changed throughout (one every 64 KiB), so nothing of it matches the old content.
func rebuilt(data []byte) []byte {
	out := append([]byte{}, data...)
	for i := len(out) / 2 % 65536; i < len(out); i += 65536 {
		out[i] ^= 0x5a
	}
	return out
}

func shaHex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// changeFile gives a file (a package, a binary) new content at the same path.
func (v *variant) changeFile(path string) {
	data := rebuilt(v.original[path])
	v.content[path] = data
	sum := shaHex(data)
	for i := range v.m.Files {
		if v.m.Files[i].Path == path {
			v.m.Files[i].SHA256 = sum
		}
	}
	for i := range v.m.Packages {
		if v.m.Packages[i].Path == path {
			v.m.Packages[i].SHA256 = sum
		}
	}
}

// imageBlobs are the paths newVariant must read to change an image: its own (last) layer, config and manifest.
func imageBlobs(im bundles.Image) []string {
	return []string{bundles.BlobPath(im.Layers[len(im.Layers)-1]), bundles.BlobPath(im.Config), bundles.BlobPath(im.Digest)}
}

// changeImage rebuilds an image's own layer: a new layer, a config and an image manifest naming it, and the OCI
// index tagging the new manifest. The layer's size stays, so every recorded size stays valid.
func (v *variant) changeImage(name string) error {
	idx := -1
	for i, im := range v.m.Images {
		if im.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("no image %s", name)
	}
	im := v.m.Images[idx]
	paths := imageBlobs(im)
	layer := rebuilt(v.original[paths[0]])
	oldLayer, newLayer := im.Layers[len(im.Layers)-1], "sha256:"+shaHex(layer)
	config := bytes.ReplaceAll(v.original[paths[1]], []byte(oldLayer), []byte(newLayer))
	newConfig := "sha256:" + shaHex(config)
	man := bytes.ReplaceAll(v.original[paths[2]], []byte(oldLayer), []byte(newLayer))
	man = bytes.ReplaceAll(man, []byte(im.Config), []byte(newConfig))
	newMan := "sha256:" + shaHex(man)
	v.m.Images[idx].Layers = append(append([]string{}, im.Layers[:len(im.Layers)-1]...), newLayer)
	v.m.Images[idx].Config, v.m.Images[idx].Digest = newConfig, newMan
	for old, blob := range map[string][]byte{oldLayer: layer, im.Config: config, im.Digest: man} {
		v.replaceBlob(old, blob)
	}
	index, err := v.m.OCIIndex(v.m.Images)
	if err != nil {
		return err
	}
	v.content[bundles.ImagesDir+"index.json"] = index
	for i := range v.m.Files {
		if v.m.Files[i].Path == bundles.ImagesDir+"index.json" {
			v.m.Files[i].SHA256, v.m.Files[i].Size = shaHex(index), int64(len(index))
		}
	}
	return nil
}

// replaceBlob lists the blob with content data instead of the blob old (kept when another image still uses it).
func (v *variant) replaceBlob(old string, data []byte) {
	used := false
	for _, im := range v.m.Images {
		for _, d := range im.Blobs() {
			used = used || d == old
		}
	}
	f, _ := v.base.Manifest.FileByPath(bundles.BlobPath(old))
	if !used {
		for i := range v.m.Files {
			if v.m.Files[i].Path == f.Path {
				v.m.Files = append(v.m.Files[:i], v.m.Files[i+1:]...)
				break
			}
		}
	}
	sum := shaHex(data)
	f.Path, f.SHA256, f.Size = bundles.BlobPath("sha256:"+sum), sum, int64(len(data))
	v.content[f.Path] = data
	v.m.Files = append(v.m.Files, f)
	sort.Slice(v.m.Files, func(i, j int) bool { return v.m.Files[i].Path < v.m.Files[j].Path })
}

// writePatch writes the variant as a patch of its base: bundles.Write asks only for the changed content.
func (v *variant) writePatch(ctx context.Context, out string, opts bundles.WriteOptions) error {
	ref := v.base.AsBase()
	v.m.Base = &ref
	opts.Base = v.base
	return bundles.Write(ctx, out, v.m, func(f bundles.File) (io.ReadCloser, error) {
		data, ok := v.content[f.Path]
		if !ok {
			return nil, fmt.Errorf("%s: the variant has no new content for it (only %s changed)", f.Path, strings.Join(keys(v.content), ", "))
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}, opts)
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
