package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"
)

// goBuilt is the result of a go source: its commands in the cache and the version facts recorded in the manifest.
type goBuilt struct {
	Commands map[string]string `json:"-"` // command name -> path of the binary in the cache
	Digests  map[string]string `json:"digests"`
	Module   string            `json:"module"`
	Version  string            `json:"version"`
}

// moduleInfo is what `go mod download -json` and the module's .info file say.
type moduleInfo struct {
	Path, Version, Info, GoMod, Dir, Error string
	Time                                   time.Time
	Origin                                 struct{ Hash string }
}

// ldflagVars are the values ldflags templates may use.
type ldflagVars struct{ Version, Major, Minor, Commit, Date string }

func (b *Builder) buildGo(ctx context.Context, src *Source) (*goBuilt, error) {
	g := src.Go
	env := []string{"GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false",
		"GOOS=" + b.spec.Target.OS, "GOARCH=" + b.spec.Target.Arch, "CGO_ENABLED=0"}
	if g.CGO {
		env[len(env)-1] = "CGO_ENABLED=1"
	}
	var (
		workDir  string
		pkgs     []string
		vars     ldflagVars
		inputKey string
		built    = &goBuilt{Module: g.Module, Version: g.Version}
	)
	if g.Local != "" {
		dir := b.spec.resolve(g.Local)
		sum, err := dirDigest(dir)
		if err != nil {
			return nil, fmt.Errorf("go source %s: %w", src.Name, err)
		}
		workDir, pkgs = dir, []string{"."}
		if len(g.Packages) > 0 {
			pkgs = g.Packages
		}
		built.Module, built.Version = "local:"+g.Local, b.spec.Version
		vars = ldflagVars{Version: b.spec.Version}
		inputKey = key("local", sum)
	} else {
		info, err := b.moduleInfo(ctx, g.Module, g.Version)
		if err != nil {
			return nil, fmt.Errorf("go source %s: %w", src.Name, err)
		}
		modFile, err := b.wrapperModule(ctx, src, info)
		if err != nil {
			return nil, err
		}
		workDir = filepath.Dir(modFile)
		pkgs = goPackages(g)
		vars = ldflagVarsFor(info)
		data, _ := os.ReadFile(modFile)
		inputKey = key("module", string(data))
	}
	ldflags, err := expandLdflags(g.Ldflags, vars)
	if err != nil {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	k := key("go-bin", inputKey, pkgs, ldflags, g.Tags, env, b.goVersion)
	out := b.cache.path("go", "bin", k)
	if b.cache.record("go", k, built) && b.haveBinaries(out, built) {
		b.log.Info("go build cached", "source", src.Name, "module", built.Module, "version", built.Version)
		return built, nil
	}
	b.log.Info("go build", "source", src.Name, "module", built.Module, "version", built.Version, "packages", len(pkgs))
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	// A private temporary directory: two builds of one key may run at once; the last rename wins, and both
	// produce the same bytes.
	tmp, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-trimpath", "-o", tmp + "/", "-ldflags", strings.Join(ldflags, " ")}
	if len(g.Tags) > 0 {
		args = append(args, "-tags", strings.Join(g.Tags, ","))
	}
	if _, err := b.run.run(ctx, workDir, env, b.goCmd, append(args, pkgs...)...); err != nil {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	built.Digests = map[string]string{}
	for _, e := range entries {
		sum, _, err := fileDigest(filepath.Join(tmp, e.Name()))
		if err != nil {
			return nil, err
		}
		built.Digests[e.Name()] = sum
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil && !b.haveBinaries(out, built) {
		return nil, fmt.Errorf("go source %s: %w", src.Name, err)
	}
	if !b.haveBinaries(out, built) {
		return nil, fmt.Errorf("go source %s: build produced no command", src.Name)
	}
	b.log.Info("go build done", "source", src.Name, "commands", len(built.Commands), "took", time.Since(start).Round(time.Second))
	return built, b.cache.putRecord("go", k, built)
}

// haveBinaries fills built.Commands when every recorded binary is still in the cache with its digest's size.
func (b *Builder) haveBinaries(dir string, built *goBuilt) bool {
	built.Commands = map[string]string{}
	for name := range built.Digests {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return false
		}
		built.Commands[name] = p
		b.known[p] = built.Digests[name]
	}
	return len(built.Commands) > 0
}

// moduleInfo downloads module@version through the module proxy and reads its origin.
func (b *Builder) moduleInfo(ctx context.Context, module, version string) (*moduleInfo, error) {
	out, err := b.run.run(ctx, b.cache.dir, []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, b.goCmd, "mod", "download", "-json", module+"@"+version)
	var info moduleInfo
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return nil, fmt.Errorf("download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return nil, fmt.Errorf("download %s@%s: %w", module, version, err)
	}
	if data, err := os.ReadFile(info.Info); err == nil {
		json.Unmarshal(data, &info)
	}
	return &info, nil
}

var (
	goLineRE      = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)
	godebugLineRE = regexp.MustCompile(`(?m)^godebug\s+([^(\s].*)$`)
	godebugBlock  = regexp.MustCompile(`(?ms)^godebug\s*\((.*?)\)`)
	stagingRE     = regexp.MustCompile(`(?m)^\s*(?:replace\s+)?(\S+)\s+=>\s+\./staging/\S+\s*$`)
)

// wrapperModule writes (or reuses) a module that requires the source's module, so its commands build with the
// module's own dependency versions plus the replacements the spec asks for, and returns its go.mod path.
func (b *Builder) wrapperModule(ctx context.Context, src *Source, info *moduleInfo) (string, error) {
	g := src.Go
	upstream, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", fmt.Errorf("go source %s: read go.mod of %s: %w", src.Name, g.Module, err)
	}
	goLine := "1.21"
	if m := goLineRE.FindSubmatch(upstream); m != nil {
		goLine = string(m[1])
	}
	var mod bytes.Buffer
	fmt.Fprintf(&mod, "module berth.build/%s\n\ngo %s\n\n", src.Name, goLine)
	for _, m := range godebugLineRE.FindAllSubmatch(upstream, -1) {
		fmt.Fprintf(&mod, "godebug %s\n", m[1])
	}
	for _, m := range godebugBlock.FindAllSubmatch(upstream, -1) {
		for _, l := range strings.Split(string(m[1]), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "//") {
				fmt.Fprintf(&mod, "godebug %s\n", l)
			}
		}
	}
	fmt.Fprintf(&mod, "\nrequire %s %s\n\n", g.Module, g.Version)
	if g.ReplaceStaging != "" {
		staged := stagingRE.FindAllSubmatch(upstream, -1)
		if len(staged) == 0 {
			return "", fmt.Errorf("go source %s: replaceStaging is set but %s@%s replaces nothing with ./staging", src.Name, g.Module, g.Version)
		}
		for _, m := range staged {
			fmt.Fprintf(&mod, "replace %s => %s %s\n", m[1], m[1], g.ReplaceStaging)
		}
	}
	for _, r := range g.Replace {
		old, repl, _ := strings.Cut(r, "=>")
		fmt.Fprintf(&mod, "replace %s => %s\n", strings.TrimSpace(old), strings.ReplaceAll(strings.TrimSpace(repl), "@", " "))
	}
	var tools bytes.Buffer
	tools.WriteString("//go:build tools\n\n// Package tools pins the commands berth builds from this module.\npackage tools\n\nimport (\n")
	for _, p := range goPackages(g) {
		fmt.Fprintf(&tools, "\t_ %q\n", p)
	}
	tools.WriteString(")\n")

	dir := b.cache.path("go", "mod", key(mod.String(), tools.String()))
	input := filepath.Join(dir, "input.mod")
	if prev, err := os.ReadFile(input); err == nil && bytes.Equal(prev, mod.Bytes()) {
		if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
			return filepath.Join(dir, "go.mod"), nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"go.mod": mod.Bytes(), "tools.go": tools.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	os.Remove(filepath.Join(dir, "go.sum"))
	b.log.Info("resolve module dependencies", "source", src.Name, "module", g.Module, "version", g.Version)
	if _, err := b.run.run(ctx, dir, []string{"GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod"}, b.goCmd, "mod", "tidy"); err != nil {
		return "", fmt.Errorf("go source %s: resolve dependencies of %s@%s (a module the proxy refuses? pin another version with replace): %w", src.Name, g.Module, g.Version, err)
	}
	if err := os.WriteFile(input, mod.Bytes(), 0o644); err != nil {
		return "", err
	}
	return filepath.Join(dir, "go.mod"), nil
}

// goPackages returns the import paths to build.
func goPackages(g *GoSource) []string {
	if len(g.Packages) == 0 {
		return []string{g.Module}
	}
	var out []string
	for _, p := range g.Packages {
		p = strings.TrimPrefix(p, "./")
		switch {
		case p == "" || p == ".":
			out = append(out, g.Module)
		case strings.HasPrefix(p, g.Module+"/") || p == g.Module || strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
			out = append(out, p)
		default:
			out = append(out, g.Module+"/"+p)
		}
	}
	return out
}

// ldflagVarsFor derives template values from the module's version and origin.
func ldflagVarsFor(info *moduleInfo) ldflagVars {
	v := ldflagVars{Version: info.Version, Commit: info.Origin.Hash}
	if !info.Time.IsZero() {
		v.Date = info.Time.UTC().Format(time.RFC3339)
	}
	parts := strings.SplitN(strings.TrimPrefix(info.Version, "v"), ".", 3)
	if len(parts) >= 2 {
		v.Major, v.Minor = parts[0], parts[1]
	}
	return v
}

// expandLdflags fills the templates in ldflags.
func expandLdflags(flags []string, v ldflagVars) ([]string, error) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		t, err := template.New("ldflags").Option("missingkey=error").Parse(f)
		if err != nil {
			return nil, fmt.Errorf("ldflags %q: %w", f, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, v); err != nil {
			return nil, fmt.Errorf("ldflags %q: %w", f, err)
		}
		out = append(out, buf.String())
	}
	return out, nil
}

// dirDigest hashes the names and contents of the regular files directly in dir, plus the go.mod and go.sum of
// the module that contains it: the inputs of a local build.
func dirDigest(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dir, err)
	}
	var parts []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		sum, _, err := fileDigest(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		parts = append(parts, e.Name()+"="+sum)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			for _, name := range []string{"go.mod", "go.sum"} {
				if sum, _, err := fileDigest(filepath.Join(d, name)); err == nil {
					parts = append(parts, name+"="+sum)
				}
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	sort.Strings(parts)
	return key(parts), nil
}
