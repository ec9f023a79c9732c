package build

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLabSpecsLoad(t *testing.T) {
	for _, name := range []string{"lab-v1.31.yaml", "lab-v1.32.yaml", "lab-v1.33.yaml"} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadSpec(filepath.Join("..", "specs", name))
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, src := range s.Sources {
				switch {
				case src.Go != nil:
					kinds["go"]++
				case src.Deb != nil:
					kinds["deb"]++
				case src.Image != nil:
					kinds["image"]++
				}
			}
			if kinds["go"] < 5 || kinds["deb"] != 1 || kinds["image"] < 8 {
				t.Fatalf("sources by kind = %v", kinds)
			}
			// The merge key must carry the iptables links into the flannel image.
			for _, src := range s.Sources {
				if src.Name == "flannel-image" && src.Image.Symlinks["/usr/sbin/iptables"] != "xtables-nft-multi" {
					t.Fatalf("flannel image symlinks = %v", src.Image.Symlinks)
				}
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	head := "apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleSpec\nname: t\nversion: v1\nsources:\n"
	cases := []struct {
		name string
		spec string
		want []string
	}{
		{"unknown field", head + "  - name: a\n    file: {path: x, to: bin/x}\n    colour: red\n", []string{"spec.yaml", "colour"}},
		{"no kind", head + "  - name: a\n", []string{"spec.yaml:6", `source "a"`, "exactly one of"}},
		{"two kinds", head + "  - name: a\n    file: {path: x, to: bin/x}\n    chart: {path: c}\n", []string{"exactly one of", "found 2"}},
		{"duplicate names", head + "  - name: a\n    file: {path: x, to: bin/x}\n  - name: a\n    file: {path: y, to: bin/y}\n", []string{"spec.yaml:8", "unique"}},
		{"bad name", head + "  - name: A B\n    file: {path: x, to: bin/x}\n", []string{"lower-case"}},
		{"module without version", head + "  - name: a\n    go: {module: example.com/x}\n", []string{"needs a version"}},
		{"module and local", head + "  - name: a\n    go: {module: example.com/x, version: v1, local: ./x}\n", []string{"either module"}},
		{"install outside bin", head + "  - name: a\n    go: {local: ./x, install: {x: etc/x}}\n", []string{"under bin/ or files/"}},
		{"file escapes", head + "  - name: a\n    file: {path: x, to: ../x}\n", []string{"under bin/ or files/"}},
		{"bad mode", head + "  - name: a\n    file: {path: x, to: bin/x, mode: rwx}\n", []string{"octal"}},
		{"image without refs", head + "  - name: a\n    image: {entrypoint: [/x]}\n", []string{"refs is required"}},
		{"image without entrypoint", head + "  - name: a\n    image: {refs: [x/y:1]}\n", []string{"entrypoint or cmd"}},
		{"image relative target", head + "  - name: a\n    image: {refs: [x/y:1], entrypoint: [/x], files: [{from: a, to: etc/a}]}\n", []string{"absolute"}},
		{"oci digest without tag", head + "  - name: a\n    oci: {ref: \"x.test/y@sha256:0123\"}\n", []string{"no tag"}},
		{"deb empty", head + "  - name: a\n    deb: {packages: []}\n", []string{"packages is empty"}},
		{"wrong kind", "apiVersion: v1\nkind: Pod\nname: t\nversion: v1\n", []string{"apiVersion/kind"}},
		{"no name", "apiVersion: bundle.berth.sh/v1alpha1\nkind: BundleSpec\n", []string{"name and version are required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec("spec.yaml", []byte(tc.spec))
			if err == nil {
				t.Fatal("spec accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRefTagAndPackages(t *testing.T) {
	for ref, want := range map[string]string{
		"registry.k8s.io/pause:3.10":              "3.10",
		"localhost:5000/x/y:v1":                   "v1",
		"localhost:5000/x/y":                      "",
		"registry.k8s.io/etcd:3.5.15-0@sha256:ab": "3.5.15-0",
	} {
		if got := refTag(ref); got != want {
			t.Errorf("refTag(%q) = %q, want %q", ref, got, want)
		}
	}
	g := &GoSource{Module: "k8s.io/kubernetes", Packages: []string{"cmd/kubeadm", "./cmd/kubelet", ".", "k8s.io/kubernetes/cmd/kubectl", "example.com/other/cmd"}}
	want := "k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes k8s.io/kubernetes/cmd/kubectl example.com/other/cmd"
	if got := strings.Join(goPackages(g), " "); got != want {
		t.Errorf("goPackages = %s", got)
	}
	v := ldflagVarsFor(&moduleInfo{Version: "v1.31.4"})
	flags, err := expandLdflags([]string{"-X a={{.Version}} -X b={{.Major}}.{{.Minor}}"}, v)
	if err != nil || flags[0] != "-X a=v1.31.4 -X b=1.31" {
		t.Errorf("expandLdflags = %v, %v", flags, err)
	}
	if _, err := expandLdflags([]string{"{{.Nope}}"}, v); err == nil {
		t.Error("an unknown template field was accepted")
	}
}

func TestInstLineParsing(t *testing.T) {
	lines := map[string][3]string{
		"Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []":                                    {"libc6", "2.36-9+deb12u14", "amd64"},
		"Inst dnsmasq (2.90-4~deb12u2 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [all])": {"dnsmasq", "2.90-4~deb12u2", "all"},
		"Inst keepalived (1:2.2.7-1+b2 Debian:12.15/oldstable [amd64])":                                     {"keepalived", "1:2.2.7-1+b2", "amd64"},
		"Inst libssl3 [3.0.15-1~deb12u1] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])":  {"libssl3", "3.0.22-1~deb12u2", "amd64"},
	}
	for line, want := range lines {
		m := instRE.FindStringSubmatch(line)
		if m == nil || m[1] != want[0] || m[2] != want[1] || m[3] != want[2] {
			t.Errorf("%q parsed as %v, want %v", line, m, want)
		}
	}
	if p := (debPkg{Name: "keepalived", Version: "1:2.2.7-1+b2", Arch: "amd64"}); p.FileName() != "keepalived_1%3a2.2.7-1+b2_amd64.deb" {
		t.Errorf("FileName = %s", p.FileName())
	}
}

// TestParseDepends: a Depends field becomes package names, versions and architecture qualifiers dropped and
// alternatives kept together.
func TestParseDepends(t *testing.T) {
	got := parseDepends("iproute2, libc6 (>= 2.34), awk | mawk (>= 1.3), libssl3:any, python3:any (>= 3.11~) | python3-minimal, foo [amd64]")
	want := []string{"iproute2", "libc6", "awk|mawk", "libssl3", "python3|python3-minimal", "foo"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("parseDepends: %q, want %q", got, want)
	}
	if got := parseDepends(""); len(got) != 0 {
		t.Errorf("an empty field: %q", got)
	}
}
