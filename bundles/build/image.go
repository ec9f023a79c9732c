package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/berthsh/berth/bundles"
)

// Media types of assembled images. Layers are stored uncompressed: the bundle's zstd compresses them better
// than gzip would, and containerd (1.6 included) unpacks uncompressed OCI layers.
const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	defaultPath   = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type imageConfig struct {
	Created      string          `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       containerConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

type containerConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// layerRecord is a cached layer: its digest (= diff ID, the layer is uncompressed) and size.
type layerRecord struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// assembleImage builds an image from the source's layers: the shared base, one layer of unpacked .debs, one of
// binaries, files and symlinks. Each layer is cached by a digest of its inputs.
func (b *Builder) assembleImage(ctx context.Context, src *Source) (*bundles.Image, error) {
	im := src.Image
	var layers []layerRecord
	var hist []history
	addLayer := func(what string, k string, make func() (layerSet, error)) error {
		var rec layerRecord
		if !b.cache.record("layer", k, &rec) || !b.cache.hasBlob(rec.Digest) {
			s, err := make()
			if err != nil {
				return err
			}
			d, size, err := b.writeLayer(s)
			if err != nil {
				return err
			}
			rec = layerRecord{Digest: d, Size: size}
			if err := b.cache.putRecord("layer", k, rec); err != nil {
				return err
			}
		}
		layers = append(layers, rec)
		hist = append(hist, history{Created: epoch.Format("2006-01-02T15:04:05Z"), CreatedBy: "berth: " + what})
		return nil
	}
	if !im.NoBase {
		if err := addLayer("base files", key("base-layer", baseLayer()), func() (layerSet, error) { return baseLayer(), nil }); err != nil {
			return nil, err
		}
	}
	if len(im.Debs) > 0 {
		pkgs, err := b.imageDebs(ctx, src)
		if err != nil {
			return nil, err
		}
		var names []string
		requested := map[string]bool{}
		for _, n := range im.Debs {
			requested[n] = true
		}
		for _, p := range pkgs {
			names = append(names, p.Name+"="+p.Version)
			if requested[p.Name] {
				b.imageDebVersions[src.Name] = append(b.imageDebVersions[src.Name], p.Name+"="+p.Version)
			}
		}
		k := key("deb-layer", pkgs, droppedDirs)
		if err := addLayer("debs "+strings.Join(names, " "), k, func() (layerSet, error) { return b.debLayer(ctx, pkgs) }); err != nil {
			return nil, fmt.Errorf("image %s: %w", src.Name, err)
		}
	}
	app, inputs, err := b.appLayer(src)
	if err != nil {
		return nil, err
	}
	if len(app) > 0 {
		if err := addLayer("files "+strings.Join(inputs, " "), key("app-layer", inputs), func() (layerSet, error) { return app, nil }); err != nil {
			return nil, fmt.Errorf("image %s: %w", src.Name, err)
		}
	}
	cfg := imageConfig{Created: epoch.Format("2006-01-02T15:04:05Z"), Architecture: b.spec.Target.Arch, OS: b.spec.Target.OS, History: hist}
	cfg.Config = containerConfig{User: im.User, Env: withPath(im.Env), Entrypoint: im.Entrypoint, Cmd: im.Cmd,
		WorkingDir: im.WorkingDir, Labels: im.Labels}
	cfg.RootFS.Type = "layers"
	man := imageManifest{SchemaVersion: 2, MediaType: mediaManifest}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
		man.Layers = append(man.Layers, descriptor{MediaType: mediaLayer, Digest: l.Digest, Size: l.Size})
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src.Name, err)
	}
	cd, cs, err := b.cache.putBlob(cfgJSON)
	if err != nil {
		return nil, err
	}
	man.Config = descriptor{MediaType: mediaConfig, Digest: cd, Size: cs}
	manJSON, err := json.Marshal(man)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src.Name, err)
	}
	md, ms, err := b.cache.putBlob(manJSON)
	if err != nil {
		return nil, err
	}
	out := &bundles.Image{Name: src.Name, Refs: im.Refs, Digest: md, MediaType: mediaManifest, Config: cd, Size: ms + cs}
	for _, l := range layers {
		out.Layers = append(out.Layers, l.Digest)
		out.Size += l.Size
	}
	return out, nil
}

// imageDebs resolves the image's packages for an empty system, minus the excluded ones, and downloads them.
func (b *Builder) imageDebs(ctx context.Context, src *Source) ([]debPkg, error) {
	all, err := b.apt.closure(ctx, src.Image.Debs, nil, true)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src.Name, err)
	}
	excluded := map[string]bool{}
	for _, e := range src.Image.ExcludeDebs {
		excluded[e] = true
	}
	var pkgs []debPkg
	for _, p := range all {
		if !excluded[p.Name] {
			pkgs = append(pkgs, p)
		}
	}
	if err := b.apt.download(ctx, pkgs); err != nil {
		return nil, fmt.Errorf("image %s: %w", src.Name, err)
	}
	return pkgs, nil
}

// appLayer collects the image's binaries, files and symlinks, and describes them for the cache key.
func (b *Builder) appLayer(src *Source) (layerSet, []string, error) {
	im := src.Image
	s := layerSet{}
	var inputs []string
	for _, f := range im.Binaries {
		srcName, cmd, _ := strings.Cut(f.From, "/")
		built, ok := b.goOutputs[srcName]
		if !ok {
			return nil, nil, fmt.Errorf("image %s: binary %q: no go source named %q before it in the spec", src.Name, f.From, srcName)
		}
		p, ok := built.Commands[cmd]
		if !ok {
			return nil, nil, fmt.Errorf("image %s: binary %q: go source %s built %v", src.Name, f.From, srcName, sortedKeys(built.Commands))
		}
		mode, _ := parseMode(f.Mode, 0o755)
		s.add(layerEntry{Path: f.To, Type: tar.TypeReg, Mode: int64(mode), Source: p})
		inputs = append(inputs, fmt.Sprintf("%s:%04o:%s", f.To, mode, built.Digests[cmd]))
	}
	for _, f := range im.Files {
		p := b.spec.resolve(f.From)
		sum, _, err := b.fileDigestCached(p)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: file %s: %w", src.Name, f.From, err)
		}
		mode, _ := parseMode(f.Mode, 0o644)
		s.add(layerEntry{Path: f.To, Type: tar.TypeReg, Mode: int64(mode), Source: p})
		inputs = append(inputs, fmt.Sprintf("%s:%04o:%s", f.To, mode, sum))
	}
	for _, link := range sortedKeys(im.Symlinks) {
		s.add(layerEntry{Path: link, Type: tar.TypeSymlink, Link: im.Symlinks[link]})
		inputs = append(inputs, link+"->"+im.Symlinks[link])
	}
	sort.Strings(inputs)
	return s, inputs, nil
}

// withPath adds the usual PATH unless env sets one: kubeadm's static pods run commands by name.
func withPath(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return env
		}
	}
	return append([]string{defaultPath}, env...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// refTag returns the tag of an image reference ("registry.k8s.io/pause:3.10" -> "3.10").
func refTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}
