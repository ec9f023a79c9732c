package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SpecAPIVersion and SpecKind identify a bundle spec file.
const (
	SpecAPIVersion = "bundle.berth.sh/v1alpha1"
	SpecKind       = "BundleSpec"
)

// Spec says what goes into a bundle and where each piece comes from.
type Spec struct {
	APIVersion        string   `yaml:"apiVersion"`
	Kind              string   `yaml:"kind"`
	Name              string   `yaml:"name"`
	Version           string   `yaml:"version"`
	KubernetesVersion string   `yaml:"kubernetesVersion"`
	Target            Target   `yaml:"target"`
	Sources           []Source `yaml:"sources"`

	// file is where the spec was read from; dir resolves relative paths in it; digest is its bytes' sha256.
	file, dir, digest string
}

// Target is the platform the bundle installs onto.
type Target struct {
	OS     string `yaml:"os"`
	Arch   string `yaml:"arch"`
	Distro string `yaml:"distro"`
}

// Source is one named input of the bundle; exactly one of its kinds is set.
type Source struct {
	Name string `yaml:"name"`
	// Component overrides the component name recorded in the manifest (default: Name).
	Component string       `yaml:"component,omitempty"`
	Go        *GoSource    `yaml:"go,omitempty"`
	Deb       *DebSource   `yaml:"deb,omitempty"`
	File      *FileSource  `yaml:"file,omitempty"`
	OCI       *OCISource   `yaml:"oci,omitempty"`
	Image     *ImageSource `yaml:"image,omitempty"`
	Chart     *ChartSource `yaml:"chart,omitempty"`

	line int
}

// GoSource builds Go commands: from a module at a version through the module proxy, or from a directory of the
// module the spec lives in (Local).
type GoSource struct {
	Module  string `yaml:"module,omitempty"`
	Version string `yaml:"version,omitempty"`
	// Local is a package directory relative to the spec, built inside the Go module that contains it.
	Local string `yaml:"local,omitempty"`
	// Packages are import paths, or paths relative to Module ("cmd/kubeadm"); default the module root.
	Packages []string `yaml:"packages,omitempty"`
	// ReplaceStaging replaces every module that Module's go.mod replaces with a ./staging directory by the same
	// module at this version: how k8s.io/kubernetes is built as a dependency ("v0.31.4").
	ReplaceStaging string `yaml:"replaceStaging,omitempty"`
	// Replace are extra go.mod replace directives: "old => new@version".
	Replace []string `yaml:"replace,omitempty"`
	// Ldflags are passed to the linker; {{.Version}}, {{.Major}}, {{.Minor}}, {{.Commit}} and {{.Date}} expand to
	// the module's version, its major and minor numbers, its VCS commit and its commit time.
	Ldflags []string `yaml:"ldflags,omitempty"`
	Tags    []string `yaml:"tags,omitempty"`
	CGO     bool     `yaml:"cgo,omitempty"`
	// Install copies built commands into the bundle, e.g. {kubeadm: bin/kubeadm} (every node installs what is
	// under bin/) or {registry: files/registry/registry} (only the hosts that need it get it). Images use them by
	// "<source>/<command>" whether installed or not.
	Install map[string]string `yaml:"install,omitempty"`
}

// DebSource adds Debian packages with every dependency a baseline host lacks.
type DebSource struct {
	Packages []string `yaml:"packages"`
	// Baseline lists what a target host already has besides Debian's Priority: required packages and apt; the
	// closure is completed relative to it.
	Baseline []string `yaml:"baseline,omitempty"`
}

// FileSource copies a local file into the bundle.
type FileSource struct {
	Path string `yaml:"path"` // relative to the spec
	To   string `yaml:"to"`   // bundle path, under bin/ or files/
	Mode string `yaml:"mode,omitempty"`
}

// OCISource pulls an image from a registry.
type OCISource struct {
	Ref string `yaml:"ref"` // registry/repository:tag or @sha256:...
	// Tags are the refs recorded in the bundle (default: Ref without a digest).
	Tags []string `yaml:"tags,omitempty"`
	// Insecure allows plain HTTP to a registry other than localhost.
	Insecure bool   `yaml:"insecure,omitempty"`
	Version  string `yaml:"version,omitempty"`
}

// ImageSource assembles an image from built commands, local files and Debian packages.
type ImageSource struct {
	Refs []string `yaml:"refs"`
	// Version recorded for the component (default: the tag of the first ref).
	Version string `yaml:"version,omitempty"`
	Note    string `yaml:"note,omitempty"`
	// NoBase leaves out the shared base layer (/etc/passwd, /etc/group, /etc/nsswitch.conf, /tmp).
	NoBase bool `yaml:"noBase,omitempty"`
	// Debs are unpacked into one layer with their dependencies (resolved for an empty system, minus Exclude).
	Debs        []string `yaml:"debs,omitempty"`
	ExcludeDebs []string `yaml:"excludeDebs,omitempty"`
	// Binaries are built Go commands: {from: "<go source>/<command>", to: /usr/local/bin/x}.
	Binaries []ImageFile `yaml:"binaries,omitempty"`
	// Files are local files: {from: path relative to the spec, to: /etc/x, mode: "0644"}.
	Files []ImageFile `yaml:"files,omitempty"`
	// Symlinks map a path in the image to its target: {/usr/sbin/iptables: xtables-nft-multi}.
	Symlinks   map[string]string `yaml:"symlinks,omitempty"`
	Entrypoint []string          `yaml:"entrypoint,omitempty"`
	Cmd        []string          `yaml:"cmd,omitempty"`
	Env        []string          `yaml:"env,omitempty"`
	WorkingDir string            `yaml:"workingDir,omitempty"`
	User       string            `yaml:"user,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty"`
}

// ImageFile places one file into an image.
type ImageFile struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
	Mode string `yaml:"mode,omitempty"`
}

// ChartSource packages a local Helm chart directory as <name>-<version>.tgz under charts/.
type ChartSource struct {
	Path string `yaml:"path"` // relative to the spec
}

// LoadSpec reads and validates a spec file.
func LoadSpec(file string) (*Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseSpec(file, data)
}

// ParseSpec decodes spec bytes; file names the spec in errors and anchors relative paths.
func ParseSpec(file string, data []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		recordSourceLines(&root, &s)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	sum := sha256.Sum256(data)
	s.file, s.dir, s.digest = file, filepath.Dir(abs), "sha256:"+hex.EncodeToString(sum[:])
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// recordSourceLines remembers the line of each source so errors can point at it.
func recordSourceLines(root *yaml.Node, s *Spec) {
	if len(root.Content) == 0 {
		return
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "sources" {
			continue
		}
		for j, n := range doc.Content[i+1].Content {
			if j < len(s.Sources) {
				s.Sources[j].line = n.Line
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// validate reports every problem of the spec at once, each with the file, the source's line and the fix.
func (s *Spec) validate() error {
	var errs []error
	at := func(src *Source, format string, args ...any) {
		where := s.file
		if src != nil {
			where = fmt.Sprintf("%s:%d: source %q", s.file, src.line, src.Name)
		}
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	if s.APIVersion != SpecAPIVersion || s.Kind != SpecKind {
		at(nil, "apiVersion/kind must be %s/%s", SpecAPIVersion, SpecKind)
	}
	if s.Name == "" || s.Version == "" {
		at(nil, "name and version are required (they name the bundle)")
	}
	if s.Target.OS == "" {
		s.Target.OS = "linux"
	}
	if s.Target.Arch == "" {
		s.Target.Arch = "amd64"
	}
	if s.Target.Distro == "" {
		s.Target.Distro = "debian-12"
	}
	names := map[string]bool{}
	for i := range s.Sources {
		src := &s.Sources[i]
		if !nameRE.MatchString(src.Name) {
			at(src, "name must be lower-case letters, digits, '.', '_' or '-'")
		}
		if names[src.Name] {
			at(src, "name is used by an earlier source; names must be unique")
		}
		names[src.Name] = true
		kinds := 0
		for _, set := range []bool{src.Go != nil, src.Deb != nil, src.File != nil, src.OCI != nil, src.Image != nil, src.Chart != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			at(src, "set exactly one of go, deb, file, oci, image, chart (found %d)", kinds)
			continue
		}
		for _, msg := range src.problems() {
			at(src, "%s", msg)
		}
	}
	return errors.Join(errs...)
}

// problems checks the fields of the source's kind.
func (src *Source) problems() []string {
	var p []string
	switch {
	case src.Go != nil:
		g := src.Go
		if (g.Module == "") == (g.Local == "") {
			p = append(p, "go: set either module (with version) or local")
		}
		if g.Module != "" && g.Version == "" {
			p = append(p, "go: module needs a version, e.g. version: v1.31.4")
		}
		for cmd, to := range g.Install {
			if (!strings.HasPrefix(to, "bin/") && !strings.HasPrefix(to, "files/")) || path.Clean(to) != to {
				p = append(p, fmt.Sprintf("go: install %s: %q must be a clean path under bin/ or files/", cmd, to))
			}
		}
		for _, r := range g.Replace {
			if _, _, ok := strings.Cut(r, "=>"); !ok {
				p = append(p, fmt.Sprintf("go: replace %q must read \"old => new@version\"", r))
			}
		}
	case src.Deb != nil:
		if len(src.Deb.Packages) == 0 {
			p = append(p, "deb: packages is empty")
		}
	case src.File != nil:
		f := src.File
		if f.Path == "" || (!strings.HasPrefix(f.To, "bin/") && !strings.HasPrefix(f.To, "files/")) || path.Clean(f.To) != f.To {
			p = append(p, "file: needs path and a clean 'to' under bin/ or files/")
		}
		if _, err := parseMode(f.Mode, 0o644); err != nil {
			p = append(p, "file: "+err.Error())
		}
	case src.OCI != nil:
		if src.OCI.Ref == "" {
			p = append(p, "oci: ref is required")
		} else if tagged, _, _ := cutDigest(src.OCI.Ref); len(src.OCI.Tags) == 0 && refTag(tagged) == "" {
			p = append(p, "oci: ref has no tag; add tags (the refs the bundle records, e.g. registry.k8s.io/pause:3.10)")
		}
	case src.Image != nil:
		im := src.Image
		if len(im.Refs) == 0 {
			p = append(p, "image: refs is required (the names kubeadm or the manifests pull)")
		}
		if len(im.Entrypoint) == 0 && len(im.Cmd) == 0 {
			p = append(p, "image: set entrypoint or cmd")
		}
		for _, f := range append(append([]ImageFile{}, im.Binaries...), im.Files...) {
			if f.From == "" || !path.IsAbs(f.To) {
				p = append(p, fmt.Sprintf("image: file %q needs from and an absolute 'to'", f.From))
			}
			if _, err := parseMode(f.Mode, 0o755); err != nil {
				p = append(p, "image: "+err.Error())
			}
		}
	case src.Chart != nil:
		if src.Chart.Path == "" {
			p = append(p, "chart: path is required")
		}
	}
	return p
}

// parseMode reads an octal mode, returning def for "".
func parseMode(s string, def uint32) (uint32, error) {
	if s == "" {
		return def, nil
	}
	var m uint32
	if _, err := fmt.Sscanf(s, "%o", &m); err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q is not an octal permission like \"0755\"", s)
	}
	return m, nil
}

// resolve returns a spec-relative path as an absolute one.
func (s *Spec) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, filepath.FromSlash(p))
}

// Digest is "sha256:<hex>" of the spec file's bytes.
func (s *Spec) Digest() string { return s.digest }

// File is the path the spec was read from.
func (s *Spec) File() string { return s.file }
