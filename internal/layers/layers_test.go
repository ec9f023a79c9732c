package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/berthsh/berth/"

// rules says which berth packages each package may import (non-test files only). A rule names a package, or a
// tree with "/..." (the package and everything under it). A package's own subtree is always allowed to it ("own"
// below means a package may import packages under itself), and every package must match exactly one rule.
var rules = []struct {
	pkg   string
	allow []string
	own   bool
}{
	// Commands and build tools map flags onto the library: they may import anything.
	{pkg: "cmd/...", allow: []string{"..."}},
	{pkg: "hack/...", allow: []string{"..."}},
	// The wizard writes an inventory and shows runner events; it never reaches the installer or a host itself.
	{pkg: "tui", allow: []string{"inventory", "internal/phase", "bundles"}},
	// Capabilities, top down.
	{pkg: "upgrade", allow: []string{"installer", "airgap", "manifests", "bundles", "inventory", "internal/..."}},
	{pkg: "installer", allow: []string{"airgap", "manifests", "bundles", "inventory", "internal/..."}},
	{pkg: "controllers/...", allow: []string{"inventory", "internal/kube"}, own: true},
	{pkg: "airgap", allow: []string{"bundles", "internal/remote", "internal/kube", "internal/phase"}},
	{pkg: "lab", allow: []string{"inventory"}, own: true},
	{pkg: "lab/labtest", allow: []string{"lab", "inventory"}},
	// Shared mechanics below the capabilities.
	{pkg: "internal/kube", allow: []string{"internal/remote"}},
	{pkg: "internal/action", allow: []string{"internal/phase", "internal/remote", "inventory"}},
	{pkg: "internal/preflight", allow: []string{"internal/phase", "internal/remote", "internal/planes", "inventory"}},
	{pkg: "internal/adhoc", allow: []string{"internal/phase", "internal/remote", "inventory"}},
	{pkg: "internal/planes", allow: []string{"inventory"}},
	// Leaves: no berth package at all (a leaf's own internal subpackages excepted).
	{pkg: "inventory"},
	{pkg: "bundles", own: true},
	{pkg: "bundles/build", allow: []string{"bundles"}, own: true},
	{pkg: "bundles/bundletest", allow: []string{"bundles"}}, // test support: small real bundles
	{pkg: "bundles/internal/...", allow: []string{}},
	{pkg: "manifests", own: true},
	{pkg: "internal/remote"},
	{pkg: "internal/remote/remotetest", allow: []string{"internal/remote"}}, // test support: in-memory hosts
	{pkg: "internal/registrytest"},                                          // test support: a real registry on loopback
	{pkg: "internal/phase"},
	{pkg: "internal/buildinfo"},
	{pkg: "internal/dnsprobe"},
	{pkg: "internal/layers"},
	{pkg: "internal/localfile"},
	{pkg: "internal/digest"},
	{pkg: "internal/pki"},
}

// everywhere are tiny leaf helpers below every row, even the leaves: reading a local file with a bound and checking
// a sha256 are done one way in all of berth.
var everywhere = []string{"internal/localfile", "internal/digest"}

// matches reports whether pkg is pattern, or under it for a "/..." pattern ("..." alone matches everything).
func matches(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == tree || strings.HasPrefix(pkg, tree+"/")
	}
	return pkg == pattern
}

// violations returns "pkg imports dep" for every import the rules do not allow, and the packages no rule covers.
func violations(imports map[string][]string) []string {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(imports)) {
		var rule = -1
		for i, r := range rules {
			if matches(r.pkg, pkg) {
				if rule >= 0 {
					out = append(out, pkg+" matches two rules: "+rules[rule].pkg+" and "+r.pkg)
				}
				rule = i
			}
		}
		if rule < 0 {
			out = append(out, pkg+" has no rule: add its row to the table in internal/layers")
			continue
		}
		r := rules[rule]
		for _, dep := range imports[pkg] {
			if dep == pkg || (r.own && strings.HasPrefix(dep, pkg+"/")) {
				continue
			}
			if !slices.Contains(everywhere, dep) && !slices.ContainsFunc(r.allow, func(a string) bool { return matches(a, dep) }) {
				out = append(out, pkg+" imports "+dep+" (allowed: "+strings.Join(r.allow, ", ")+")")
			}
		}
	}
	return out
}

// berthImports reads the berth imports of every package in the module, from the non-test files.
func berthImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", dir, err)
	}
	return dir
}

// TestImportsPointDown fails when any package of the module imports a berth package its row does not allow.
func TestImportsPointDown(t *testing.T) {
	imports := berthImports(t, moduleRoot(t))
	if len(imports) < 15 {
		t.Fatalf("read only %d packages: the walk is broken", len(imports))
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

// TestPlantedUpwardImportsAreCaught shows the rules catch what they are for: a planted upward import, the wizard
// reaching the installer, a leaf importing anything, and a package nobody placed in the table.
func TestPlantedUpwardImportsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		pkg, dep, want string
	}{
		{"internal/remote", "inventory", "internal/remote imports inventory"},
		{"tui", "installer", "tui imports installer"},
		{"installer", "upgrade", "installer imports upgrade"},
		{"airgap", "installer", "airgap imports installer"},
		{"internal/kube", "installer", "internal/kube imports installer"},
		{"inventory", "internal/phase", "inventory imports internal/phase"},
		{"newthing", "inventory", "newthing has no rule"},
	} {
		imports := berthImports(t, moduleRoot(t))
		imports[tc.pkg] = append(imports[tc.pkg], tc.dep)
		got := strings.Join(violations(imports), "\n")
		if !strings.Contains(got, tc.want) {
			t.Errorf("planted %s -> %s: violations\n%s\nwant one containing %q", tc.pkg, tc.dep, got, tc.want)
		}
	}
}
