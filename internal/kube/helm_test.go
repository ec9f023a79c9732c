package kube

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

func TestNextStep(t *testing.T) {
	rev := func(s release.Status) *release.Release { return &release.Release{Info: &release.Info{Status: s}} }
	for _, tc := range []struct {
		last *release.Release
		want helmStep
	}{
		{nil, helmStep{install: true}},
		{rev(release.StatusDeployed), helmStep{}},
		{rev(release.StatusFailed), helmStep{}},
		{rev(release.StatusSuperseded), helmStep{}},
		{rev(release.StatusPendingInstall), helmStep{clear: true}},
		{rev(release.StatusPendingUpgrade), helmStep{clear: true}},
		{rev(release.StatusPendingRollback), helmStep{clear: true}},
		{rev(release.StatusUninstalling), helmStep{clear: true}},
		{rev(release.StatusUnknown), helmStep{clear: true}},
		{rev(release.StatusUninstalled), helmStep{install: true, replace: true}},
	} {
		name := "never installed"
		if tc.last != nil {
			name = tc.last.Info.Status.String()
		}
		if got := nextStep(tc.last); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", name, got, tc.want)
		}
	}
}

// helmRelease is a Release whose history is kept in memory and whose objects go nowhere: Helm's own actions run
// for real over it, so the tests show which histories Helm accepts after nextStep's repair.
func helmRelease(t *testing.T) *Release {
	t.Helper()
	mem := driver.NewMemory()
	mem.SetNamespace("kube-system")
	cfg := &action.Configuration{
		Releases:     storage.Init(mem),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	cfg.Releases.MaxHistory = MaxHistory
	return &Release{name: "dns", namespace: "kube-system", cfg: cfg, log: discard()}
}

func testChart() *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "dns", Version: "1.0.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dns\ndata:\n  upstream: {{ .Values.upstream | quote }}\n")}},
	}
}

// leave stores a revision as an interrupted run would have left it.
func leave(t *testing.T, r *Release, version int, status release.Status) {
	t.Helper()
	err := r.cfg.Releases.Create(&release.Release{Name: r.name, Namespace: r.namespace, Version: version,
		Chart: testChart(), Config: map[string]any{"upstream": "old"},
		Info: &release.Info{Status: status, Description: "left by a test"}})
	if err != nil {
		t.Fatal(err)
	}
}

func statuses(t *testing.T, r *Release) string {
	t.Helper()
	h, err := r.cfg.Releases.History(r.name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(h)+1)
	for _, rel := range h {
		if rel.Version < len(out) {
			out[rel.Version] = rel.Info.Status.String()
		}
	}
	return strings.Join(out[1:], ",")
}

func TestReleaseApply(t *testing.T) {
	ctx := context.Background()
	values := map[string]any{"upstream": "10.0.0.53"}
	for _, tc := range []struct {
		name    string
		history []release.Status // revisions 1, 2, ... before Apply
		want    string           // statuses of every revision after Apply
	}{
		{"never installed", nil, "deployed"},
		{"deployed", []release.Status{release.StatusDeployed}, "superseded,deployed"},
		{"killed during the install", []release.Status{release.StatusPendingInstall}, "superseded,deployed"},
		{"killed during an upgrade", []release.Status{release.StatusDeployed, release.StatusPendingUpgrade}, "superseded,failed,deployed"},
		{"killed during a rollback", []release.Status{release.StatusSuperseded, release.StatusDeployed, release.StatusPendingRollback}, "superseded,superseded,failed,deployed"},
		{"install failed", []release.Status{release.StatusFailed}, "superseded,deployed"},
		{"uninstalled, history kept", []release.Status{release.StatusUninstalled}, "superseded,deployed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := helmRelease(t)
			for i, s := range tc.history {
				leave(t, r, i+1, s)
			}
			rel, err := r.Apply(ctx, testChart(), values, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if rel.Info.Status != release.StatusDeployed || !strings.Contains(rel.Manifest, "10.0.0.53") {
				t.Errorf("revision %d is %s with manifest %q", rel.Version, rel.Info.Status, rel.Manifest)
			}
			if got := statuses(t, r); got != tc.want {
				t.Errorf("history %s, want %s", got, tc.want)
			}
		})
	}

	t.Run("Helm refuses a pending revision without the repair", func(t *testing.T) {
		r := helmRelease(t)
		leave(t, r, 1, release.StatusPendingInstall)
		up := action.NewUpgrade(r.cfg)
		up.Namespace = r.namespace
		if _, err := up.RunWithContext(ctx, r.name, testChart(), values); err == nil {
			t.Fatal("Helm upgraded over a pending install: the repair may be unnecessary")
		}
		in := action.NewInstall(r.cfg)
		in.ReleaseName, in.Namespace = r.name, r.namespace
		if _, err := in.RunWithContext(ctx, testChart(), values); err == nil {
			t.Fatal("Helm installed over a pending install")
		}
	})

	t.Run("keeps at most MaxHistory revisions", func(t *testing.T) {
		r := helmRelease(t)
		for i := range MaxHistory + 3 {
			if _, err := r.Apply(ctx, testChart(), map[string]any{"upstream": i}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		h, _ := r.cfg.Releases.History(r.name)
		last, _ := r.Last()
		if len(h) > MaxHistory || last.Version != MaxHistory+3 {
			t.Errorf("%d revisions kept, last %d", len(h), last.Version)
		}
	})
}

func TestReleaseRollback(t *testing.T) {
	ctx := context.Background()
	r := helmRelease(t)
	if last, err := r.Last(); last != nil || err != nil {
		t.Fatalf("Last of a release never installed: %v, %v", last, err)
	}
	if err := r.Rollback(ctx, 0, time.Minute); err == nil {
		t.Error("rolled back a release never installed")
	}
	for _, v := range []string{"first", "second"} {
		if _, err := r.Apply(ctx, testChart(), map[string]any{"upstream": v}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	leave(t, r, 3, release.StatusPendingUpgrade)
	if err := r.Rollback(ctx, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	last, err := r.Last()
	if err != nil {
		t.Fatal(err)
	}
	if last.Version != 4 || last.Info.Status != release.StatusDeployed || last.Config["upstream"] != "second" {
		t.Errorf("after rolling back to the previous revision: revision %d %s, upstream %v", last.Version,
			last.Info.Status, last.Config["upstream"])
	}
	if err := r.Rollback(ctx, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if last, _ = r.Last(); last.Config["upstream"] != "first" {
		t.Errorf("after rolling back to revision 1: upstream %v", last.Config["upstream"])
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Rollback(cancelled, 1, time.Minute); err == nil {
		t.Error("rolled back with a cancelled context")
	}
}

// TestReleaseThroughTheTunnels reads a release's history with Helm's Secret storage over the client's tunnels.
func TestReleaseThroughTheTunnels(t *testing.T) {
	c, _, _, store, _ := twoControlPlanes(t)
	r, err := c.Release("dns", "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	last, err := r.Last()
	if last != nil || err != nil {
		t.Fatalf("Last: %v, %v; want nothing installed", last, err)
	}
	reqs := store.requests("a")
	if len(reqs) == 0 || reqs[0].Path != "/api/v1/namespaces/kube-system/secrets" ||
		!strings.Contains(reqs[0].Query, "owner%3Dhelm") || !strings.Contains(reqs[0].Query, "name%3Ddns") {
		t.Errorf("Helm asked %+v", reqs)
	}
	reason, err := r.Diff(context.Background(), nil)
	if err != nil || reason != "install" {
		t.Errorf("Diff: %q, %v; want install", reason, err)
	}
}
