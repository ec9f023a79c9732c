package upgrade

import (
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
)

func bundleOf(k string) *bundles.Bundle {
	return &bundles.Bundle{Manifest: &bundles.Manifest{Name: "lab", Version: k + "-berth.1", KubernetesVersion: k}}
}

func v(s string) Version {
	out, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return out
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"v1.32.5": {1, 32, 5}, "1.31.4": {1, 31, 4}, "v1.33.0-rc.1": {1, 33, 0}, "v1.30.2+berth": {1, 30, 2}} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "v1.32", "one.two.three", "v1.-1.0"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func hops(p *Path) string {
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.From.String()+"->"+h.To.String())
	}
	return strings.Join(out, " ")
}

func TestPlanPath(t *testing.T) {
	nodes := map[string]Version{"cp1": v("v1.31.4"), "w1": v("v1.31.4")}
	for _, tc := range []struct {
		name    string
		current string
		bundles []string
		hops    string
		problem string // substring of the one problem expected, "" for none
	}{
		{"one minor", "v1.31.4", []string{"v1.32.5"}, "v1.31.4->v1.32.5", ""},
		{"a patch", "v1.31.4", []string{"v1.31.9"}, "v1.31.4->v1.31.9", ""},
		{"same version: nothing to do", "v1.31.4", []string{"v1.31.4"}, "", ""},
		{"two minors through the middle one", "v1.31.4", []string{"v1.33.1", "v1.32.5"}, "v1.31.4->v1.32.5 v1.32.5->v1.33.1", ""},
		{"the newest bundle of each minor", "v1.31.4", []string{"v1.32.1", "v1.32.5", "v1.33.1"}, "v1.31.4->v1.32.5 v1.32.5->v1.33.1", ""},
		{"two minors ahead without the hop", "v1.31.4", []string{"v1.33.1"}, "", "no bundle carries Kubernetes 1.32"},
		{"older than the cluster", "v1.32.5", []string{"v1.31.4"}, "", "older than the cluster's v1.32.5: berth never downgrades"},
		{"another major", "v1.31.4", []string{"v2.0.0"}, "", "changes the major version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bs []*bundles.Bundle
			for _, b := range tc.bundles {
				bs = append(bs, bundleOf(b))
			}
			p, problems := PlanPath(v(tc.current), nodes, bs)
			if tc.problem != "" {
				if len(problems) != 1 || !strings.Contains(problems[0].Detail, tc.problem) || problems[0].Fix == "" {
					t.Fatalf("problems %+v, want one with %q and a fix", problems, tc.problem)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("problems: %+v", problems)
			}
			if got := hops(p); got != tc.hops {
				t.Fatalf("hops %q, want %q", got, tc.hops)
			}
		})
	}
}

// Kubelets may stay three minors behind the API server at every hop and never be newer than the target.
func TestPlanPathKubeletSkew(t *testing.T) {
	bs := []*bundles.Bundle{bundleOf("v1.32.5"), bundleOf("v1.33.1")}
	// 1.29 is three minors behind 1.32 but four behind 1.33: the second hop would leave it too far behind.
	_, problems := PlanPath(v("v1.31.4"), map[string]Version{"w-old": v("v1.29.9"), "w-ok": v("v1.30.1"), "w-new": v("v1.34.0")}, bs)
	got := map[string]string{}
	for _, p := range problems {
		got[p.Host] = p.Detail
	}
	if len(problems) != 2 || !strings.Contains(got["w-old"], "4 minors behind the API server's v1.33.1") ||
		!strings.Contains(got["w-new"], "newer than the target v1.33.1") {
		t.Fatalf("problems: %+v", problems)
	}
}
