package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// debPkg is one resolved Debian package.
type debPkg struct {
	Name, Version, Arch string
	// File is the downloaded .deb in the cache; SHA256 and Size describe it.
	File   string
	SHA256 string
	Size   int64
}

// FileName is the name apt gives the .deb.
func (p debPkg) FileName() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
}

// instRE matches apt-get's simulated install lines: "Inst name [old] (version origins [arch])".
var instRE = regexp.MustCompile(`^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([a-z0-9]+)\]\)`)

// apt resolves Debian packages with the build machine's apt configuration (its sources, its keys) without
// touching the machine's own package state: every simulation runs against a status file of its own.
type apt struct {
	b *Builder
	// baselineStatus caches, per baseline list, the dpkg status file of a baseline host.
	baselineStatus map[string]string
	required       []string
	lists          string
}

// listsState identifies the package lists apt resolves from (names, sizes and times of the files under
// Dir::State::lists): while it is unchanged, a resolution gives the same result and is taken from the cache.
func (a *apt) listsState(ctx context.Context) (string, error) {
	if a.lists != "" {
		return a.lists, nil
	}
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "apt-config", "shell", "LISTS", "Dir::State::lists/d")
	if err != nil {
		return "", err
	}
	dir := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "LISTS=")), "'")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read apt lists: %w", err)
	}
	var parts []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || e.Name() == "lock" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("apt has no package lists in %s: run apt-get update on the build machine", dir)
	}
	a.lists = key(parts)
	return a.lists, nil
}

// aptArgs are the options every apt call gets: the given dpkg status file, no recommends, no locks.
func aptArgs(status string) []string {
	return []string{"-o", "Dir::State::status=" + status, "-o", "Debug::NoLocking=1",
		"-o", "APT::Install-Recommends=0", "-o", "APT::Install-Suggests=0", "-q", "-s"}
}

// simulate returns the packages apt would install on a host whose dpkg status is the given file.
func (a *apt) simulate(ctx context.Context, status string, names []string) ([]debPkg, error) {
	args := append(aptArgs(status), "install")
	args = append(args, names...)
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "apt-get", args...)
	if err != nil {
		return nil, fmt.Errorf("resolve %s with apt (is 'apt-get update' done and the name right?): %w", strings.Join(names, " "), err)
	}
	var pkgs []debPkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := instRE.FindStringSubmatch(sc.Text()); m != nil {
			pkgs = append(pkgs, debPkg{Name: m[1], Version: m[2], Arch: m[3]})
		}
	}
	return pkgs, nil
}

// known reports whether apt has a package of that name.
func (a *apt) known(ctx context.Context, name string) bool {
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "apt-cache", "show", "--no-all-versions", name)
	return err == nil && bytes.Contains(out, []byte("Package: "+name))
}

// requiredPackages lists the packages of Priority: required, which every Debian system has.
func (a *apt) requiredPackages(ctx context.Context) ([]string, error) {
	if a.required != nil {
		return a.required, nil
	}
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "apt-cache", "dumpavail")
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	var name string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Package: "); ok {
			name = v
		} else if line == "Priority: required" {
			set[name] = true
		}
	}
	for n := range set {
		a.required = append(a.required, n)
	}
	sort.Strings(a.required)
	if len(a.required) == 0 {
		return nil, fmt.Errorf("apt knows no Priority: required package: run apt-get update on the build machine")
	}
	return a.required, nil
}

// statusFor writes the dpkg status file of a host with the given baseline installed: Debian's required packages,
// apt and the baseline list, with their dependencies. An empty baseline means an empty system (for images).
func (a *apt) statusFor(ctx context.Context, baseline []string, empty bool) (string, error) {
	dir := a.b.cache.path("apt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	emptyStatus := filepath.Join(dir, "status.empty")
	if err := os.WriteFile(emptyStatus, nil, 0o644); err != nil {
		return "", err
	}
	if empty {
		return emptyStatus, nil
	}
	k := key("baseline", baseline)
	if p, ok := a.baselineStatus[k]; ok {
		return p, nil
	}
	req, err := a.requiredPackages(ctx)
	if err != nil {
		return "", err
	}
	// What debootstrap --variant=minbase installs: the required set and apt, plus usr-is-merged where the
	// release has it (merged /usr is debootstrap's default; without it apt would satisfy "usrmerge |
	// usr-is-merged" with usrmerge and its perl, and assume a perl the hosts do not have).
	names := append(append(append([]string{}, req...), "apt"), baseline...)
	if a.known(ctx, "usr-is-merged") {
		names = append(names, "usr-is-merged")
	}
	pkgs, err := a.simulate(ctx, emptyStatus, names)
	if err != nil {
		return "", fmt.Errorf("resolve the baseline host: %w", err)
	}
	args := []string{"show", "--no-all-versions"}
	for _, p := range pkgs {
		args = append(args, p.Name+"="+p.Version)
	}
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "apt-cache", args...)
	if err != nil {
		return "", err
	}
	var status bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		status.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Package: ") {
			status.WriteString("Status: install ok installed\n")
		}
	}
	p := filepath.Join(dir, "status."+k[:16])
	if err := writeAtomic(p, status.Bytes()); err != nil {
		return "", err
	}
	if a.baselineStatus == nil {
		a.baselineStatus = map[string]string{}
	}
	a.baselineStatus[k] = p
	a.b.log.Debug("baseline host resolved", "packages", len(pkgs))
	return p, nil
}

// closure returns names plus every dependency missing from the baseline host (or from an empty system when
// empty is true). Packages named explicitly are always included, even when the baseline has them, so a host
// without them still gets them from the bundle.
func (a *apt) closure(ctx context.Context, names, baseline []string, empty bool) ([]debPkg, error) {
	lists, err := a.listsState(ctx)
	if err != nil {
		return nil, err
	}
	k := key("closure-v2", names, baseline, empty, lists)
	var cached []debPkg
	if a.b.cache.record("apt", k, &cached) {
		return cached, nil
	}
	pkgs, err := a.resolve(ctx, names, baseline, empty)
	if err != nil {
		return nil, err
	}
	return pkgs, a.b.cache.putRecord("apt", k, pkgs)
}

func (a *apt) resolve(ctx context.Context, names, baseline []string, empty bool) ([]debPkg, error) {
	status, err := a.statusFor(ctx, baseline, empty)
	if err != nil {
		return nil, err
	}
	pkgs, err := a.simulate(ctx, status, names)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, p := range pkgs {
		have[p.Name] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		// Already in the baseline: ask what an empty system would install and take just those packages.
		empty, err := a.statusFor(ctx, nil, true)
		if err != nil {
			return nil, err
		}
		all, err := a.simulate(ctx, empty, missing)
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			for _, n := range missing {
				if p.Name == n {
					pkgs = append(pkgs, p)
				}
			}
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}

// depends reads a .deb's Pre-Depends and Depends (dpkg-deb -f) as parseDepends gives them.
func (a *apt) depends(ctx context.Context, file string) ([]string, error) {
	out, err := a.b.run.run(ctx, a.b.cache.dir, []string{"LC_ALL=C"}, "dpkg-deb", "-f", file, "Pre-Depends", "Depends")
	if err != nil {
		return nil, err
	}
	var deps []string
	for _, line := range strings.Split(strings.ReplaceAll(string(out), "\n ", " "), "\n") {
		if _, v, ok := strings.Cut(line, ": "); ok {
			deps = append(deps, parseDepends(v)...)
		}
	}
	return deps, nil
}

// parseDepends turns a Depends field ("libc6 (>= 2.34), awk | mawk, libssl3:any") into package names, one entry per
// dependency with alternatives joined by "|" ("libc6", "awk|mawk", "libssl3").
func parseDepends(field string) []string {
	var out []string
	for _, dep := range strings.Split(field, ",") {
		var alts []string
		for _, alt := range strings.Split(dep, "|") {
			name := strings.TrimSpace(alt)
			if i := strings.IndexAny(name, " (["); i >= 0 {
				name = name[:i]
			}
			name, _, _ = strings.Cut(name, ":")
			if name != "" {
				alts = append(alts, name)
			}
		}
		if len(alts) > 0 {
			out = append(out, strings.Join(alts, "|"))
		}
	}
	return out
}

// download fetches the packages into the cache (only those not there yet) and fills in file, size and sha256.
func (a *apt) download(ctx context.Context, pkgs []debPkg) error {
	dir := a.b.cache.path("debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var want []string
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p.FileName())); err != nil {
			want = append(want, p.Name+":"+p.Arch+"="+p.Version)
		}
	}
	if len(want) > 0 {
		a.b.log.Info("download debian packages", "count", len(want))
		tmp, err := os.MkdirTemp(dir, ".download-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if _, err := a.b.run.run(ctx, tmp, []string{"LC_ALL=C"}, "apt-get", append([]string{"-q", "download"}, want...)...); err != nil {
			return fmt.Errorf("download debian packages: %w", err)
		}
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for i := range pkgs {
		p := &pkgs[i]
		p.File = filepath.Join(dir, p.FileName())
		sum, size, err := a.b.fileDigestCached(p.File)
		if err != nil {
			return fmt.Errorf("debian package %s %s: %w (apt saved it under another name?)", p.Name, p.Version, err)
		}
		p.SHA256, p.Size = sum, size
	}
	return nil
}
