package build

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthsh/berth/bundles"
)

// Options configures one bundle build.
type Options struct {
	// Spec is the spec file to build.
	Spec string
	// Output is the bundle file to write (a zstd-compressed tar).
	Output string
	// SignKey signs the manifest; nil builds an unsigned bundle.
	SignKey ed25519.PrivateKey
	// CacheDir holds built binaries, downloaded packages and image blobs; default DefaultCacheDir().
	CacheDir string
	// Builder is the version of berth recorded in the provenance.
	Builder string
	// BuildTime is recorded in the provenance; zero means $SOURCE_DATE_EPOCH when set, else now.
	BuildTime time.Time
	// Base, when set, makes the output a patch bundle of this opened (verified) full bundle: the manifest
	// describes the whole release built from the spec, the archive carries only the content Base lacks.
	Base *bundles.Bundle
	// GoCommand is the go tool to build with; default "go".
	GoCommand string
	Logger    *slog.Logger
}

// Result describes a finished build.
type Result struct {
	Output         string
	Manifest       *bundles.Manifest
	ManifestDigest string
	// CompressedBytes is the size of the bundle file; PayloadBytes the sum of its files.
	CompressedBytes int64
	PayloadBytes    int64
	Duration        time.Duration
}

// Builder builds one bundle from a spec. Make one with New and call Run once.
type Builder struct {
	opts      Options
	spec      *Spec
	cache     cache
	run       runner
	log       *slog.Logger
	apt       *apt
	goCmd     string
	goVersion string
	// goOutputs are the commands of each go source, for images that use them.
	goOutputs map[string]*goBuilt
	// imageDebVersions are the resolved versions of the packages each image asked for, for its component entry.
	imageDebVersions map[string][]string
	digests          map[string]fileSum
	// known are digests the cache already vouches for (blob names, recorded build outputs); writing the
	// bundle re-checks them anyway.
	known    map[string]string
	manifest *bundles.Manifest
	// sources maps bundle paths to the files on disk that hold their content.
	sources map[string]string
}

// New returns a builder for the options.
func New(opts Options) *Builder {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Builder{opts: opts, log: log, run: runner{log: log}, goCmd: opts.GoCommand, goOutputs: map[string]*goBuilt{}, imageDebVersions: map[string][]string{},
		digests: map[string]fileSum{}, known: map[string]string{}, sources: map[string]string{}}
	if b.goCmd == "" {
		b.goCmd = "go"
	}
	b.apt = &apt{b: b}
	return b
}

// Run builds the bundle: every source (go builds, packages, pulls, images, charts, files) through the cache,
// then the manifest, then the archive.
func (b *Builder) Run(ctx context.Context) (*Result, error) {
	start := time.Now()
	spec, err := LoadSpec(b.opts.Spec)
	if err != nil {
		return nil, err
	}
	b.spec = spec
	if b.opts.Output == "" {
		return nil, fmt.Errorf("build bundle: no output file given")
	}
	dir := b.opts.CacheDir
	if dir == "" {
		if dir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	b.cache = cache{dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create build cache: %w", err)
	}
	out, err := b.run.run(ctx, dir, []string{"GOTOOLCHAIN=local"}, b.goCmd, "env", "GOVERSION")
	if err != nil {
		return nil, fmt.Errorf("find the go toolchain (needed to build go sources): %w", err)
	}
	b.goVersion = strings.TrimSpace(string(out))
	b.manifest = &bundles.Manifest{APIVersion: bundles.APIVersion, Kind: bundles.ManifestKind, Name: spec.Name,
		Version: spec.Version, KubernetesVersion: spec.KubernetesVersion,
		Target:     bundles.Target{OS: spec.Target.OS, Arch: spec.Target.Arch, Distro: spec.Target.Distro},
		Components: []bundles.Component{}, Images: []bundles.Image{}, Packages: []bundles.Package{}, Charts: []bundles.Chart{}}
	b.log.Info("build bundle", "spec", spec.File(), "name", spec.Name, "version", spec.Version, "cache", dir)

	// Images come last: they use what go sources built.
	for _, pass := range []bool{false, true} {
		for i := range spec.Sources {
			src := &spec.Sources[i]
			if (src.Image != nil) != pass {
				continue
			}
			if err := b.addSource(ctx, src); err != nil {
				return nil, err
			}
		}
	}
	if err := b.finishManifest(); err != nil {
		return nil, err
	}
	b.log.Info("write bundle", "output", b.opts.Output, "files", len(b.manifest.Files), "bytes", b.manifest.TotalSize())
	err = bundles.Write(ctx, b.opts.Output, b.manifest, func(f bundles.File) (io.ReadCloser, error) {
		return os.Open(b.sources[f.Path])
	}, bundles.WriteOptions{SignKey: b.opts.SignKey, Base: b.opts.Base})
	if err != nil {
		return nil, err
	}
	data, err := b.manifest.Marshal()
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(b.opts.Output)
	if err != nil {
		return nil, err
	}
	res := &Result{Output: b.opts.Output, Manifest: b.manifest, ManifestDigest: digestBytes(data),
		CompressedBytes: st.Size(), PayloadBytes: b.manifest.TotalSize(), Duration: time.Since(start)}
	b.log.Info("bundle built", "output", res.Output, "bytes", res.CompressedBytes, "payload", res.PayloadBytes, "took", res.Duration.Round(time.Second))
	return res, nil
}

// addSource runs one source and records what it adds.
func (b *Builder) addSource(ctx context.Context, src *Source) error {
	comp := src.Component
	if comp == "" {
		comp = src.Name
	}
	switch {
	case src.Go != nil:
		built, err := b.buildGo(ctx, src)
		if err != nil {
			return err
		}
		b.goOutputs[src.Name] = built
		b.component(bundles.Component{Name: comp, Version: built.Version, Source: "go " + built.Module + "@" + built.Version})
		for _, cmd := range sortedKeys(src.Go.Install) {
			p, ok := built.Commands[cmd]
			if !ok {
				return fmt.Errorf("go source %s: install %s: built commands are %v", src.Name, cmd, sortedKeys(built.Commands))
			}
			if err := b.addFile(src.Go.Install[cmd], p, 0o755, kindFor(src.Go.Install[cmd]), comp); err != nil {
				return err
			}
		}
	case src.Deb != nil:
		pkgs, err := b.apt.closure(ctx, src.Deb.Packages, src.Deb.Baseline, false)
		if err != nil {
			return fmt.Errorf("deb source %s: %w", src.Name, err)
		}
		if err := b.apt.download(ctx, pkgs); err != nil {
			return fmt.Errorf("deb source %s: %w", src.Name, err)
		}
		requested := map[string]bool{}
		for _, n := range src.Deb.Packages {
			requested[n] = true
		}
		for _, p := range pkgs {
			bp := "packages/" + b.spec.Target.Distro + "/" + p.FileName()
			if err := b.addFile(bp, p.File, 0o644, bundles.KindPackage, comp); err != nil {
				return err
			}
			deps, err := b.apt.depends(ctx, p.File)
			if err != nil {
				return fmt.Errorf("deb source %s: read the dependencies of %s: %w", src.Name, p.FileName(), err)
			}
			b.manifest.Packages = append(b.manifest.Packages, bundles.Package{Name: p.Name, Version: p.Version, Arch: p.Arch,
				Path: bp, SHA256: p.SHA256, Size: p.Size, Requested: requested[p.Name], Depends: deps})
		}
		b.log.Info("debian packages resolved", "source", src.Name, "requested", len(src.Deb.Packages), "with dependencies", len(pkgs))
	case src.File != nil:
		mode, _ := parseMode(src.File.Mode, 0o644)
		if err := b.addFile(src.File.To, b.spec.resolve(src.File.Path), mode, kindFor(src.File.To), comp); err != nil {
			return fmt.Errorf("file source %s: %w", src.Name, err)
		}
	case src.Chart != nil:
		c, err := b.packageChart(src)
		if err != nil {
			return err
		}
		bp := fmt.Sprintf("charts/%s-%s.tgz", c.Name, c.Version)
		if err := b.addFile(bp, c.File, 0o644, bundles.KindChart, comp); err != nil {
			return err
		}
		b.manifest.Charts = append(b.manifest.Charts, bundles.Chart{Name: c.Name, Version: c.Version, Path: bp, SHA256: c.SHA256, Size: c.Size})
		b.component(bundles.Component{Name: comp, Version: c.Version, Source: "chart " + src.Chart.Path})
	case src.OCI != nil:
		im, err := b.pullImage(ctx, src)
		if err != nil {
			return err
		}
		im.Component = comp
		version := src.OCI.Version
		if version == "" {
			version = refTag(im.Refs[0])
		}
		b.component(bundles.Component{Name: comp, Version: version, Source: "oci " + src.OCI.Ref + "@" + im.Digest})
		return b.addImage(im)
	case src.Image != nil:
		im, err := b.assembleImage(ctx, src)
		if err != nil {
			return err
		}
		im.Component = comp
		version := src.Image.Version
		if version == "" {
			version = refTag(im.Refs[0])
		}
		b.component(bundles.Component{Name: comp, Version: version, Source: "image " + b.imageInputs(src), Note: src.Image.Note})
		return b.addImage(im)
	}
	return nil
}

// imageInputs names what an assembled image is made of, for its component entry.
func (b *Builder) imageInputs(src *Source) string {
	var parts []string
	for _, f := range src.Image.Binaries {
		name, _, _ := strings.Cut(f.From, "/")
		if g, ok := b.goOutputs[name]; ok {
			parts = append(parts, f.From+" ("+g.Module+"@"+g.Version+")")
		}
	}
	if len(src.Image.Debs) > 0 {
		parts = append(parts, "debs "+strings.Join(b.imageDebVersions[src.Name], ","))
	}
	return strings.Join(parts, "; ")
}

// component records a component once.
func (b *Builder) component(c bundles.Component) {
	for _, have := range b.manifest.Components {
		if have.Name == c.Name && have.Version == c.Version {
			return
		}
	}
	b.manifest.Components = append(b.manifest.Components, c)
}

// addFile lists a file of the bundle and remembers where its content is.
func (b *Builder) addFile(bundlePath, diskPath string, mode uint32, kind bundles.FileKind, comp string) error {
	sum, size, err := b.fileDigestCached(diskPath)
	if err != nil {
		return fmt.Errorf("add %s: %w", bundlePath, err)
	}
	if prev, ok := b.sources[bundlePath]; ok {
		if f, _ := b.fileEntry(bundlePath); f.SHA256 == sum {
			return nil
		}
		return fmt.Errorf("add %s: two sources write this path (%s and %s)", bundlePath, prev, diskPath)
	}
	b.sources[bundlePath] = diskPath
	b.manifest.Files = append(b.manifest.Files, bundles.File{Path: bundlePath, Size: size, SHA256: sum,
		Mode: bundles.FileMode(mode), Kind: kind, Component: comp})
	return nil
}

func (b *Builder) fileEntry(p string) (bundles.File, bool) {
	for _, f := range b.manifest.Files {
		if f.Path == p {
			return f, true
		}
	}
	return bundles.File{}, false
}

// addImage lists an image and its blobs (shared blobs once).
func (b *Builder) addImage(im *bundles.Image) error {
	for _, have := range b.manifest.Images {
		for _, r := range have.Refs {
			for _, r2 := range im.Refs {
				if r == r2 {
					return fmt.Errorf("image %s: ref %s is already used by image %s", im.Name, r, have.Name)
				}
			}
		}
	}
	for _, d := range im.Blobs() {
		if _, done := b.sources[bundles.BlobPath(d)]; done {
			continue
		}
		if err := b.addFile(bundles.BlobPath(d), b.cache.blobPath(d), 0o644, bundles.KindImageBlob, ""); err != nil {
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
	}
	b.manifest.Images = append(b.manifest.Images, *im)
	return nil
}

// finishManifest sorts everything, writes the OCI layout's index, and fills in the provenance.
func (b *Builder) finishManifest() error {
	m := b.manifest
	if len(m.Images) > 0 {
		sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
		idx, err := m.OCIIndex(m.Images)
		if err != nil {
			return err
		}
		for name, data := range map[string][]byte{"index.json": idx, "oci-layout": []byte(bundles.OCILayoutFile)} {
			d, _, err := b.cache.putBlob(data)
			if err != nil {
				return err
			}
			if err := b.addFile(bundles.ImagesDir+name, b.cache.blobPath(d), 0o644, bundles.KindImageIndex, ""); err != nil {
				return err
			}
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	sort.Slice(m.Images, func(i, j int) bool { return m.Images[i].Name < m.Images[j].Name })
	sort.Slice(m.Packages, func(i, j int) bool { return m.Packages[i].Name < m.Packages[j].Name })
	sort.Slice(m.Charts, func(i, j int) bool { return m.Charts[i].Name < m.Charts[j].Name })
	sort.Slice(m.Components, func(i, j int) bool { return m.Components[i].Name < m.Components[j].Name })
	bt := b.opts.BuildTime
	if bt.IsZero() {
		bt = time.Now()
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
				bt = time.Unix(sec, 0)
			}
		}
	}
	m.Provenance = bundles.Provenance{SpecName: filepath.Base(b.spec.File()), SpecDigest: b.spec.Digest(),
		Builder: b.opts.Builder, GoVersion: b.goVersion, BuildTime: bt.UTC().Truncate(time.Second)}
	if b.opts.Base != nil {
		ref := b.opts.Base.AsBase()
		m.Base = &ref
	}
	return m.Validate()
}

// kindFor classifies a bundle path.
func kindFor(p string) bundles.FileKind {
	switch {
	case strings.HasPrefix(p, "bin/cni/"):
		return bundles.KindCNI
	case strings.HasPrefix(p, "bin/"):
		return bundles.KindBinary
	default:
		return bundles.KindFile
	}
}

type fileSum struct {
	sha  string
	size int64
}

// fileDigestCached hashes a file once per build. Files of the blob store are named by their digest, and build
// outputs have recorded digests: those are only stat'ed.
func (b *Builder) fileDigestCached(p string) (string, int64, error) {
	if d, ok := b.digests[p]; ok {
		return d.sha, d.size, nil
	}
	sum, known := b.known[p]
	if !known && filepath.Dir(p) == b.cache.path("blobs", "sha256") {
		sum, known = filepath.Base(p), true
	}
	var size int64
	if known {
		st, err := os.Stat(p)
		if err != nil {
			return "", 0, err
		}
		size = st.Size()
	} else {
		var err error
		if sum, size, err = fileDigest(p); err != nil {
			return "", 0, err
		}
	}
	b.digests[p] = fileSum{sum, size}
	return sum, size, nil
}

func digestBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
