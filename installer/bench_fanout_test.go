package installer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/lab"
)

// fanOutLab is the lab of the staging fan-out benchmark: eight nodes behind one thin uplink.
var fanOutLab = lab.Options{Name: "bench-fanout", ControlPlanes: 1, Workers: 7}

// BenchmarkStageFanOut stages the lab bundle with every byte from this machine crossing a 100 Mbit/s uplink (the
// management bridge here and every host's management NIC shaped with tc tbf), first to one host, the floor, then to
// all eight, and reports both times and their ratio (goal: eight hosts in at most twice the time of one), the bytes
// that crossed the uplink and those relayed between hosts, and that a second run moves nothing. Run it with make
// bench-fanout.
func BenchmarkStageFanOut(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the lab and the lab bundle")
	}
	env := freshLab(b, fanOutLab)
	b.Cleanup(func() { lab.Down(context.Background(), fanOutLab.Name, "") })
	ctx := context.Background()
	undo, err := env.lab.ShapeUplink(ctx, "100mbit")
	if err != nil {
		b.Fatal(err)
	}
	defer undo()
	first := env.inv.ControlPlanes()[0].Name
	one := onlyHost(b, env.invPath, first)

	// The install up to its stage phase: the phases after it are skipped.
	var after []string
	for i, name := range installer.PhaseNames() {
		if i > slices.Index(installer.PhaseNames(), "stage") {
			after = append(after, name)
		}
	}
	stage := func(inv string) (time.Duration, string, int) {
		events := filepath.Join(b.TempDir(), "events.jsonl")
		code, stdout, stderr := env.run(b, 30*time.Minute, "install", "-i", inv, "-b", env.bundle, "--key", env.key,
			"--skip-phases", strings.Join(after, ","), "--state-dir", b.TempDir(), "--yes", "-o", "json", "--events", events)
		if code != 0 {
			b.Fatalf("stage: exit %d\n%s\n%s", code, stdout, stderr)
		}
		var res struct {
			ChangesMade int `json:"changesMade"`
			Phases      []struct {
				Name     string
				Duration time.Duration
			}
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			b.Fatalf("%v\n%s", err, stdout)
		}
		var took time.Duration
		for _, p := range res.Phases {
			if p.Name == "stage" {
				took = p.Duration
			}
		}
		data, _ := os.ReadFile(events)
		summary := ""
		for _, line := range strings.Split(string(data), "\n") {
			var ev struct{ Kind, Phase, Message string }
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Kind == "log" && ev.Phase == "stage" {
				summary += ev.Message + "; "
			}
		}
		return took, summary, res.ChangesMade
	}

	floor, floorSummary, _ := stage(one)
	if _, err := env.exec(b, first, "rm -rf /var/lib/berth/stage"); err != nil {
		b.Fatal(err)
	}
	eight, summary, _ := stage(env.invPath)
	_, _, again := stage(env.invPath)

	fmt.Fprintf(os.Stderr, "\nstaging the lab bundle over a 100 Mbit/s uplink\n")
	fmt.Fprintf(os.Stderr, "  1 host (%s, the floor):  %s  %s\n", first, floor.Round(100*time.Millisecond), floorSummary)
	fmt.Fprintf(os.Stderr, "  8 hosts:                 %s  %s\n", eight.Round(100*time.Millisecond), summary)
	ratio := eight.Seconds() / floor.Seconds()
	fmt.Fprintf(os.Stderr, "  ratio 8 hosts / 1 host: %.2f (goal <= 2)\n", ratio)
	fmt.Fprintf(os.Stderr, "  second run: %d changes\n", again)
	b.ReportMetric(floor.Seconds(), "one-host-s")
	b.ReportMetric(eight.Seconds(), "eight-hosts-s")
	b.ReportMetric(ratio, "ratio")
	if again != 0 {
		b.Errorf("a second stage of the same bundle made %d changes, want 0", again)
	}
	if !regexp.MustCompile(`relayed between hosts`).MatchString(summary) || strings.Contains(summary, ", 0 B relayed") {
		b.Errorf("no content was relayed between hosts behind the thin uplink: %s", summary)
	}
}

// onlyHost writes a copy of the inventory at path that keeps only the named host, next to it (its paths are
// relative to it), and returns its path; the copy is removed when the test ends.
func onlyHost(t testing.TB, path, host string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	hosts, _ := doc["hosts"].([]any)
	var keep []any
	for _, h := range hosts {
		if m, ok := h.(map[string]any); ok && m["name"] == host {
			keep = append(keep, h)
		}
	}
	doc["hosts"] = keep
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(path), "inventory-only-"+host+".yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	return p
}
