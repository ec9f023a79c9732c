package installer

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
	"github.com/berthsh/berth/manifests"
)

// benchLab is the lab the install benchmark rebuilds for each of its two installs.
var benchLab = lab.Options{Name: "bench-install", ControlPlanes: 3, Workers: 2}

// BenchmarkInstallVsScript installs the same cluster twice on a fresh 3+2 lab: once with berth, once with the same
// kubeadm-level steps written as a plain bash script over OpenSSH (each step run on the hosts in parallel, SSH
// connections reused, the same files berth renders). It reports both times and their ratio, and berth's time per
// phase. Run it with make bench-install.
func BenchmarkInstallVsScript(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the lab and the lab bundle")
	}
	bundlePath, keyPath := labtest.RequireBundle(b)
	berth := os.Getenv("BERTH_BINARY")
	if berth == "" {
		b.Fatal("set BERTH_BINARY to a berth binary (make bench-install does)")
	}
	// Each round installs twice; BERTH_BENCH_ROUNDS sets how many (b.N stays 1: the testing package runs a
	// benchmark once more before it runs it N times).
	rounds := 1
	if r, err := strconv.Atoi(os.Getenv("BERTH_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	var berthTotal, scriptTotal time.Duration
	for round := range rounds {
		// berth
		l := freshBenchLab(b)
		stateDir := b.TempDir()
		start := time.Now()
		out, err := exec.Command(berth, "install", "-i", l.InventoryPath, "-b", bundlePath, "--key", keyPath, "--yes",
			"--state-dir", stateDir, "-o", "json").Output()
		if err != nil {
			b.Fatalf("berth install: %v\n%s", err, out)
		}
		berthTime := time.Since(start)
		var res struct {
			Phases []struct {
				Name     string
				Status   string
				Duration time.Duration
			}
		}
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}

		// the same steps, scripted
		l = freshBenchLab(b)
		scriptTime, steps, err := runScriptedInstall(b, l, bundlePath, keyPath)
		if err != nil {
			b.Fatal(err)
		}

		fmt.Fprintf(os.Stderr, "\nround %d of %d\nberth install (3 control planes + 2 workers, fresh lab): %s\n", round+1, rounds, berthTime.Round(time.Second))
		for _, p := range res.Phases {
			fmt.Fprintf(os.Stderr, "  %-22s %8s  %s\n", p.Name, p.Duration.Round(100*time.Millisecond), p.Status)
		}
		fmt.Fprintf(os.Stderr, "the same kubeadm-level steps scripted with bash + OpenSSH: %s\n", scriptTime.Round(time.Second))
		for _, s := range steps {
			fmt.Fprintf(os.Stderr, "  %-22s %8s\n", s.name, s.took.Round(100*time.Millisecond))
		}
		fmt.Fprintf(os.Stderr, "ratio berth / script: %.2f\n", berthTime.Seconds()/scriptTime.Seconds())
		berthTotal += berthTime
		scriptTotal += scriptTime
	}
	// Over several rounds (make bench-install ROUNDS=3) the ratio is of the totals: one install on this 2-core
	// machine varies by several seconds from run to run, on either side.
	ratio := berthTotal.Seconds() / scriptTotal.Seconds()
	fmt.Fprintf(os.Stderr, "\n%d round(s): berth %s, script %s, ratio berth / script: %.2f (goal <= 1.0)\n", rounds,
		berthTotal.Round(time.Second), scriptTotal.Round(time.Second), ratio)
	b.ReportMetric(berthTotal.Seconds()/float64(rounds), "berth-s")
	b.ReportMetric(scriptTotal.Seconds()/float64(rounds), "script-s")
	b.ReportMetric(ratio, "ratio")
	ctx := context.Background()
	lab.Down(ctx, benchLab.Name, "")
}

func freshBenchLab(b *testing.B) *lab.Lab { return labtest.RequireFresh(b, benchLab) }

type scriptStep struct {
	name string
	took time.Duration
}

// runScriptedInstall renders what berth would write, writes a bash script doing the install's steps with ssh and
// scp, runs it and returns its time (rendering and bundle extraction excluded: the script starts with files in
// hand) and the time of each step.
func runScriptedInstall(b *testing.B, l *lab.Lab, bundlePath, keyPath string) (time.Duration, []scriptStep, error) {
	ctx := context.Background()
	inv, err := l.Inventory()
	if err != nil {
		return 0, nil, err
	}
	pub, err := bundles.LoadPublicKey(keyPath)
	if err != nil {
		return 0, nil, err
	}
	bun, err := bundles.Open(ctx, bundlePath, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		return 0, nil, err
	}
	pool := action.NewPool(inv, nil)
	defer pool.Close()
	cacheBase, _ := os.UserCacheDir()
	c := &Cluster{Inv: inv, Bundle: bun, Pool: pool, CacheDir: filepath.Join(cacheBase, "berth", "staging")}
	cache, err := airgap.PrepareCache(ctx, bun, c.CacheDir)
	if err != nil {
		return 0, nil, err
	}
	dir := b.TempDir()
	script, err := writeScript(ctx, c, cache, l, dir)
	if err != nil {
		return 0, nil, err
	}
	start := time.Now()
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("scripted install: %v\n%s", err, out)
	}
	var steps []scriptStep
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "STEP "); ok {
			f := strings.Fields(rest)
			if len(f) == 2 {
				d, _ := time.ParseDuration(f[1] + "s")
				steps = append(steps, scriptStep{f[0], d})
			}
		}
	}
	return took, steps, nil
}

// writeScript renders every file into dir/<host>/ and writes dir/install.sh.
func writeScript(ctx context.Context, c *Cluster, cache *airgap.Cache, l *lab.Lab, dir string) (string, error) {
	inv := c.Inv
	m := c.Bundle.Manifest
	first := c.First()
	pause, err := airgap.ImageRef(m, "pause")
	if err != nil {
		return "", err
	}
	var facts *preflight.Facts
	if e, err := c.Host(first.Name); err == nil {
		facts, err = preflight.Gather(ctx, e)
		if err != nil {
			return "", err
		}
	} else {
		return "", err
	}
	st, err := func() (*HostState, error) {
		e, _ := c.Host(first.Name)
		out, err := e.Exec(ctx, stateScript)
		return parseState(out), err
	}()
	if err != nil {
		return "", err
	}
	cc, err := c.clusterConfig(facts.CgroupDriver())
	if err != nil {
		return "", err
	}
	unit, dropIn, _ := manifests.KubeletUnit(binDir)
	cniConf, _ := manifests.CNIConf()
	containerd, err := manifests.ContainerdConfig(manifests.Containerd{SandboxImage: pause, SystemdCgroup: facts.CgroupDriver() == "systemd", RestrictOOMScoreAdj: !st.CapSysRes})
	if err != nil {
		return "", err
	}
	token, key := newToken(), newCertificateKey()
	write := func(host, name string, data []byte) error {
		p := filepath.Join(dir, host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o600)
	}
	for _, h := range inv.Nodes() {
		files := map[string][]byte{"hosts.add": []byte(hostsLines(inv)), "containerd.toml": containerd, "kubelet.service": unit, "10-kubeadm.conf": dropIn,
			"10-flannel.conflist": cniConf, "sysctl.conf": []byte(sysctlContent), "modules.conf": []byte(modulesContent)}
		if h.Has(inventory.RoleControlPlane) {
			lb, err := lbFiles(inv, h)
			if err != nil {
				return "", err
			}
			for _, f := range lb {
				files[path.Base(f.Path)] = f.Content
			}
			_, patch, _ := manifests.APIServerPatch(inv.NodeIP(h))
			files["patch.json"] = patch
		}
		if h.Name == first.Name {
			files["kubeadm.yaml"], err = manifests.KubeadmInit(cc, c.nodeConfig(h), token, key)
		} else {
			files["kubeadm.yaml"], err = manifests.KubeadmJoin(cc, c.nodeConfig(h), manifests.Join{Token: token, CACertHashes: []string{"__HASH__"}, CertificateKey: key})
		}
		if err != nil {
			return "", err
		}
		for name, data := range files {
			if err := write(h.Name, name, data); err != nil {
				return "", err
			}
		}
	}
	flannelImage, _ := airgap.ImageRef(m, "flannel")
	probe, _ := probeAddress(inv)
	flannel, err := manifests.FlannelManifests(manifests.Flannel{Image: flannelImage, PodCIDR: inv.Kubernetes.PodCIDR, Plane: string(inv.Kubernetes.PodPlane), IfaceCanReach: probe})
	if err != nil {
		return "", err
	}
	if err := write(first.Name, "flannel.yaml", flannel); err != nil {
		return "", err
	}
	extra, err := scriptedAddons(c)
	if err != nil {
		return "", err
	}
	if err := write(first.Name, "addons.yaml", extra); err != nil {
		return "", err
	}

	archives, err := ScriptArchives(ctx, c.Bundle, dir)
	if err != nil {
		return "", err
	}
	var debs, bins []string
	for _, f := range airgap.FilesOf(m, bundles.KindPackage) {
		debs = append(debs, filepath.Join(cache.Dir, f.Path))
	}
	for _, f := range airgap.FilesOf(m, bundles.KindBinary, bundles.KindCNI) {
		bins = append(bins, filepath.Join(cache.Dir, f.Path))
	}
	addr := func(h *inventory.Host) string { return h.Address }
	var b strings.Builder
	fmt.Fprintf(&b, `#!/usr/bin/env bash
# The install's kubeadm-level steps as an administrator would script them: bash, OpenSSH, one host per background job.
set -euo pipefail
O=(-i %q -o UserKnownHostsFile=%q -o StrictHostKeyChecking=yes -o BatchMode=yes -o ControlMaster=auto -o ControlPath=%q/cm-%%h -o ControlPersist=600)
S() { local h=$1; shift; ssh "${O[@]}" berth@$h sudo bash -c "$(printf '%%q ' "$*")"; }
P() { local h=$1; shift; scp -q "${O[@]}" "$@" berth@$h:/home/berth/in/; }
T=$(date +%%s.%%N)
step() { local now; now=$(date +%%s.%%N); echo "STEP $1 $(echo "$now $T" | awk '{printf "%%.2f", $1-$2}')"; T=$now; }
DEBS=(%s)
BINS=(%s)
`, l.KeyPath, l.KnownHostsPath, dir, quoteAll(debs), quoteAll(bins))
	nodes := inv.Nodes()
	hostList := func(hosts []*inventory.Host, f func(*inventory.Host) string) string {
		var out []string
		for _, h := range hosts {
			out = append(out, f(h))
		}
		return strings.Join(out, " ")
	}
	// The SSH connections the script shares end with it, whatever its outcome.
	fmt.Fprintf(&b, "trap 'for h in %s; do ssh \"${O[@]}\" -O exit berth@$h 2>/dev/null || true; done' EXIT\n", hostList(nodes, addr))
	par := func(hosts []*inventory.Host, body func(h *inventory.Host) string) {
		for _, h := range hosts {
			fmt.Fprintf(&b, "( %s ) &\n", body(h))
		}
		b.WriteString("wait\n")
	}
	// stage: packages, binaries and the image archive to every node
	par(nodes, func(h *inventory.Host) string {
		set := "node"
		if h.Has(inventory.RoleControlPlane) {
			set = "control-plane"
		}
		return fmt.Sprintf(`S %s "mkdir -p /home/berth/in && chown berth /home/berth/in" && P %s "${DEBS[@]}" "${BINS[@]}" %q %s/*`,
			addr(h), addr(h), archives[set], filepath.Join(dir, h.Name))
	})
	b.WriteString("step stage\n")
	par(nodes, func(h *inventory.Host) string {
		return fmt.Sprintf(`S %s "cd /home/berth/in && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i *.deb >/dev/null && rm /usr/sbin/policy-rc.d && cp sysctl.conf %s && cp modules.conf %s && sysctl -q -p %s && hostname %s && cat hosts.add >> /etc/hosts"`,
			addr(h), sysctlFile, modulesFile, sysctlFile, h.Name)
	})
	b.WriteString("step os\n")
	par(nodes, func(h *inventory.Host) string {
		return fmt.Sprintf(`S %s "cd /home/berth/in && for f in kubeadm kubelet kubectl etcdctl; do [ -f \$f ] && install -m 0755 \$f %s/; done; mkdir -p %s /etc/cni/net.d /etc/systemd/system/kubelet.service.d && for f in bandwidth bridge firewall flannel host-device host-local ipvlan loopback macvlan portmap ptp sbr static tuning vlan; do [ -f \$f ] && install -m 0755 \$f %s/; done; cp containerd.toml %s && cp kubelet.service %s && cp 10-kubeadm.conf %s && cp 10-flannel.conflist /etc/cni/net.d/ && systemctl daemon-reload && systemctl enable -q containerd kubelet && systemctl restart containerd && sleep 1"`,
			addr(h), binDir, cniBinDir, cniBinDir, containerdConfig, kubeletUnitFile, kubeletDropInFile)
	})
	b.WriteString("step runtime\n")
	par(nodes, func(h *inventory.Host) string {
		return fmt.Sprintf(`S %s "ctr -n k8s.io images import /home/berth/in/images-*.tar >/dev/null"`, addr(h))
	})
	b.WriteString("step images\n")
	par(inv.ControlPlanes(), func(h *inventory.Host) string {
		return fmt.Sprintf(`S %s "cd /home/berth/in && install -m 0755 berth-check-haproxy.sh %s && cp keepalived.conf %s && cp haproxy.cfg %s && mkdir -p %s && cp patch.json %s/kube-apiserver+json.json && systemctl enable -q haproxy keepalived && systemctl restart haproxy keepalived"`,
			addr(h), keepalivedCheck, keepalivedConfig, haproxyConfig, manifests.PatchesDir, manifests.PatchesDir)
	})
	b.WriteString("step load-balancer\n")
	fmt.Fprintf(&b, "S %s \"kubeadm init --config /home/berth/in/kubeadm.yaml --upload-certs >/dev/null\"\nstep init\n", addr(first))
	fmt.Fprintf(&b, "HASH=$(S %s \"kubeadm token create --print-join-command\" | sed -n 's/.*--discovery-token-ca-cert-hash \\(sha256:[0-9a-f]*\\).*/\\1/p')\n", addr(first))
	for _, h := range inv.ControlPlanes()[1:] {
		fmt.Fprintf(&b, "S %s \"sed -i s/__HASH__/$HASH/ /home/berth/in/kubeadm.yaml && kubeadm join --config /home/berth/in/kubeadm.yaml >/dev/null\"\n", addr(h))
	}
	b.WriteString("step join-control-planes\n")
	par(inv.Workers(), func(h *inventory.Host) string {
		return fmt.Sprintf(`S %s "sed -i s/__HASH__/$HASH/ /home/berth/in/kubeadm.yaml && kubeadm join --config /home/berth/in/kubeadm.yaml >/dev/null"`, addr(h))
	})
	b.WriteString("step join-workers\n")
	k := "kubectl --kubeconfig /etc/kubernetes/admin.conf"
	var dnsHosts []string
	for _, h := range inv.DNSHosts() {
		dnsHosts = append(dnsHosts, h.Name)
	}
	fmt.Fprintf(&b, "S %s \"%s apply -f /home/berth/in/flannel.yaml >/dev/null && %s label node %s %s=true >/dev/null && %s apply -f /home/berth/in/addons.yaml >/dev/null\"\nstep cni-and-dns\n",
		addr(first), k, k, strings.Join(dnsHosts, " "), manifests.DNSNodeLabel, k)
	fmt.Fprintf(&b, "S %s \"%s wait --for=condition=Ready nodes --all --timeout=10m >/dev/null && sleep 5 && %s wait -n kube-system --for=condition=Ready pods --all --timeout=10m >/dev/null && %s wait -n kube-flannel --for=condition=Ready pods --all --timeout=10m >/dev/null\"\nstep nodes\n", addr(first), k, k, k)
	p := filepath.Join(dir, "install.sh")
	return p, os.WriteFile(p, []byte(b.String()), 0o700)
}

func hostsLines(inv *inventory.Inventory) string {
	var lines []string
	for _, h := range inv.Nodes() {
		lines = append(lines, inv.NodeIP(h)+" "+h.Name)
	}
	return strings.Join(lines, "\n") + "\n"
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " ")
}

// scriptedAddons renders what the install applies after the CNI for the script: the DNS chart's objects (the
// script applies them with kubectl, as `helm template | kubectl apply` would) and the DNS hosts' node label.
func scriptedAddons(c *Cluster) ([]byte, error) {
	p := &installDNS{c: c}
	if err := p.renderChart(); err != nil {
		return nil, err
	}
	return []byte(p.render.Manifest), nil
}

// ScriptArchives writes, for the scripted baselines of the benchmarks, one image archive per image set into dir
// (images-control-plane.tar, images-node.tar), as an administrator would carry images to hosts: berth itself
// stages the blobs one by one. It returns set name -> path.
func ScriptArchives(ctx context.Context, b *bundles.Bundle, dir string) (map[string]string, error) {
	out := map[string]string{}
	cp, node := airgap.ImageSets(b.Manifest, nil)
	for _, set := range []airgap.ImageSet{cp, node} {
		p := filepath.Join(dir, "images-"+set.Name+".tar")
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		err = b.WriteImageArchive(ctx, f, set.Refs()...)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out[set.Name] = p
	}
	return out, nil
}
