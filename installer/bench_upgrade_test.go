package installer_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
	"github.com/berthsh/berth/manifests"
)

// benchUpgradeLab is the lab the upgrade benchmark rebuilds for each of its two upgrades.
var benchUpgradeLab = lab.Options{Name: "bench-upgrade", ControlPlanes: 3, Workers: 2}

// BenchmarkUpgradeVsScript upgrades the same 1.31 cluster to 1.32 twice, each on a fresh 3+2 lab installed by berth
// and running the same workload (2 replicas behind a NodePort, a budget, a readiness probe, a preStop pause): once
// with berth upgrade apply, once with the same kubeadm upgrade steps scripted by hand (bash and OpenSSH: stage the
// binaries and images, kubeadm upgrade apply then node on each control plane, drain, upgrade and uncordon each
// worker). A probe on this machine sends a request every 100 ms to the API through the VIP and to the workload
// during both. It prints both times, per step, the ratio and each side's failed requests. Run it with make
// bench-upgrade.
func BenchmarkUpgradeVsScript(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the lab and both lab bundles")
	}
	next := labtest.RequireUpgradeBundle(b)
	for range b.N {
		env := benchCluster(b)
		probe := startProbe(b, env, deployWorkload(b, env.kube(b), env.inv.Workers()[0].Name))
		start := time.Now()
		events := filepath.Join(b.TempDir(), "events.jsonl")
		code, stdout, stderr := env.run(b, 60*time.Minute, "upgrade", "apply", "-i", env.invPath, "-b", next, "--key", env.key,
			"--state-dir", env.stateDir, "--yes", "-o", "json", "--events", events)
		berthTime := time.Since(start)
		bAPI, bAPITotal, bApp, bAppTotal := probe.stop()
		if bAPI+bApp > 0 { // what failed, and what berth was doing then (its events carry their times)
			fmt.Fprintf(os.Stderr, "berth's failed requests:\n%s\n", probe.firstFailures())
			fmt.Fprintf(os.Stderr, "what berth did, and when:\n%s\n", stepEvents(events))
		}
		if code != 0 {
			b.Fatalf("berth upgrade apply: exit %d\n%s\n%s", code, stdout, stderr)
		}
		var res struct {
			Phases []struct {
				Name     string
				Status   string
				Duration time.Duration
			}
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			b.Fatalf("%v\n%s", err, stdout)
		}

		env = benchCluster(b)
		probe = startProbe(b, env, deployWorkload(b, env.kube(b), env.inv.Workers()[0].Name))
		scriptTime, steps, err := runScriptedUpgrade(b, env, next)
		sAPI, sAPITotal, sApp, sAppTotal := probe.stop()
		if err != nil {
			b.Fatal(err)
		}

		fmt.Fprintf(os.Stderr, "\nberth upgrade apply 1.31 -> 1.32 (3 control planes + 2 workers): %s\n", berthTime.Round(time.Second))
		for _, p := range res.Phases {
			fmt.Fprintf(os.Stderr, "  %-22s %8s  %s\n", p.Name, p.Duration.Round(100*time.Millisecond), p.Status)
		}
		fmt.Fprintf(os.Stderr, "  probe: %d of %d API requests failed, %d of %d workload requests failed\n", bAPI, bAPITotal, bApp, bAppTotal)
		fmt.Fprintf(os.Stderr, "the same kubeadm upgrade steps scripted with bash + OpenSSH: %s\n", scriptTime.Round(time.Second))
		for _, s := range steps {
			fmt.Fprintf(os.Stderr, "  %-22s %8s\n", s.name, s.took.Round(100*time.Millisecond))
		}
		fmt.Fprintf(os.Stderr, "  probe: %d of %d API requests failed, %d of %d workload requests failed\n", sAPI, sAPITotal, sApp, sAppTotal)
		ratio := berthTime.Seconds() / scriptTime.Seconds()
		fmt.Fprintf(os.Stderr, "ratio berth / script: %.2f (goal <= 1.1, with 0 failed requests)\n", ratio)
		b.ReportMetric(berthTime.Seconds(), "berth-s")
		b.ReportMetric(scriptTime.Seconds(), "script-s")
		b.ReportMetric(ratio, "ratio")
		b.ReportMetric(float64(bAPI+bApp), "berth-failed")
		b.ReportMetric(float64(sAPI+sApp), "script-failed")
	}
	lab.Down(context.Background(), benchUpgradeLab.Name, "")
}

// benchCluster installs the 1.31 lab bundle with berth on a fresh benchmark lab (not timed).
func benchCluster(b *testing.B) *e2eEnv {
	b.Helper()
	env := freshLab(b, benchUpgradeLab)
	if code, stdout, stderr := env.run(b, 40*time.Minute, env.installArgs()...); code != 0 {
		b.Fatalf("install: exit %d\n%s\n%s", code, stdout, stderr)
	}
	env.loadNetcheck(b)
	return env
}

type benchStep struct {
	name string
	took time.Duration
}

// runScriptedUpgrade extracts the new bundle here (not timed), writes the upgrade's kubeadm steps as an
// administrator would script them (bash, OpenSSH, the documented order) and runs it, returning its time and each
// step's.
func runScriptedUpgrade(b *testing.B, env *e2eEnv, next string) (time.Duration, []benchStep, error) {
	ctx := context.Background()
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		return 0, nil, err
	}
	bun, err := bundles.Open(ctx, next, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		return 0, nil, err
	}
	base, _ := os.UserCacheDir()
	cache, err := airgap.PrepareCache(ctx, bun, filepath.Join(base, "berth", "staging"))
	if err != nil {
		return 0, nil, err
	}
	dir := b.TempDir()
	archives, err := installer.ScriptArchives(ctx, bun, dir)
	if err != nil {
		return 0, nil, err
	}
	inv := env.inv
	bin := func(name string) string { return filepath.Join(cache.Dir, "bin", name) }
	version := bun.Manifest.KubernetesVersion
	var s strings.Builder
	fmt.Fprintf(&s, `#!/usr/bin/env bash
# The upgrade's kubeadm steps as an administrator would script them: bash, OpenSSH, the documented order.
set -euo pipefail
O=(-i %q -o UserKnownHostsFile=%q -o StrictHostKeyChecking=yes -o BatchMode=yes -o ControlMaster=auto -o ControlPath=%q/cm-%%h -o ControlPersist=600)
S() { local h=$1; shift; ssh "${O[@]}" berth@$h sudo bash -c "$(printf '%%q ' "$*")"; }
P() { local h=$1; shift; scp -q "${O[@]}" "$@" berth@$h:/home/berth/up/; }
T=$(date +%%s.%%N)
step() { local now; now=$(date +%%s.%%N); echo "STEP $1 $(echo "$now $T" | awk '{printf "%%.2f", $1-$2}')"; T=$now; }
K="kubectl --kubeconfig /etc/kubernetes/admin.conf"
`, env.lab.KeyPath, env.lab.KnownHostsPath, dir)
	// The SSH connections the script shares end with it, whatever its outcome.
	var addrs []string
	for _, h := range inv.Nodes() {
		addrs = append(addrs, h.Address)
	}
	fmt.Fprintf(&s, "trap 'for h in %s; do ssh \"${O[@]}\" -O exit berth@$h 2>/dev/null || true; done' EXIT\n", strings.Join(addrs, " "))
	for _, h := range inv.Nodes() {
		files := []string{bin("kubeadm"), bin("kubelet"), bin("kubectl"), archives["node"]}
		if h.Has(inventory.RoleControlPlane) {
			// The script keeps the API server bound to its control-plane address, as the install did, with a patch of
			// its own: berth's patches directory also holds its static pod UIDs of the installed version, which only
			// berth's upgrade moves on.
			_, bind, err := manifests.APIServerPatch(inv.NodeIP(h))
			if err != nil {
				return 0, nil, err
			}
			patch := filepath.Join(dir, h.Name+".patch.json")
			if err := os.WriteFile(patch, bind, 0o600); err != nil {
				return 0, nil, err
			}
			files = []string{bin("kubeadm"), bin("kubelet"), bin("kubectl"), archives["control-plane"], patch}
		}
		fmt.Fprintf(&s, "( S %s \"mkdir -p /home/berth/up && chown berth /home/berth/up\" && P %s", h.Address, h.Address)
		for _, f := range files {
			fmt.Fprintf(&s, " %q", f)
		}
		s.WriteString(" ) &\n")
	}
	s.WriteString("wait\nstep stage\n")
	for _, h := range inv.Nodes() {
		fmt.Fprintf(&s, "S %s \"ctr -n k8s.io images import /home/berth/up/images-*.tar >/dev/null\" &\n", h.Address)
	}
	s.WriteString("wait\nstep images\n")
	newBins := "cd /home/berth/up && install -m 0755 kubelet kubectl /usr/local/bin/ && systemctl daemon-reload && systemctl restart kubelet"
	for i, h := range inv.ControlPlanes() {
		verb := "upgrade node"
		if i == 0 {
			verb = "upgrade apply " + version + " --yes --ignore-preflight-errors=SystemVerification,Swap,HTTPProxyCIDR,CoreDNSUnsupportedPlugins,CoreDNSMigration"
		}
		fmt.Fprintf(&s, "S %s \"cd /home/berth/up && mkdir -p patches && cp %s.patch.json patches/kube-apiserver+json.json && install -m 0755 kubeadm /usr/local/bin/ && kubeadm %s --patches /home/berth/up/patches >/dev/null && %s\"\n",
			h.Address, h.Name, verb, newBins)
		fmt.Fprintf(&s, "S %s \"$K wait --for=condition=Ready node/%s --timeout=5m >/dev/null\"\nstep control-plane-%s\n", inv.ControlPlanes()[0].Address, h.Name, h.Name)
	}
	cp := inv.ControlPlanes()[0].Address
	for _, h := range inv.Workers() {
		fmt.Fprintf(&s, "S %s \"$K drain %s --ignore-daemonsets --delete-emptydir-data --timeout=5m >/dev/null\"\n", cp, h.Name)
		fmt.Fprintf(&s, "S %s \"cd /home/berth/up && install -m 0755 kubeadm /usr/local/bin/ && kubeadm upgrade node >/dev/null && %s\"\n", h.Address, newBins)
		fmt.Fprintf(&s, "S %s \"$K wait --for=condition=Ready node/%s --timeout=5m >/dev/null && $K uncordon %s >/dev/null\"\nstep worker-%s\n", cp, h.Name, h.Name, h.Name)
	}
	script := filepath.Join(dir, "upgrade.sh")
	if err := os.WriteFile(script, []byte(s.String()), 0o700); err != nil {
		return 0, nil, err
	}
	start := time.Now()
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("scripted upgrade: %v\n%s", err, out)
	}
	var steps []benchStep
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "STEP "); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				d, _ := time.ParseDuration(f[1] + "s")
				steps = append(steps, benchStep{f[0], d})
			}
		}
	}
	return took, steps, nil
}
