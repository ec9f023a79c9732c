package build

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
)

// labBundle opens the lab bundle built by hack/build-lab-bundle.sh: $BERTH_BUNDLE, or
// ~/.cache/berth/bundles/lab-v1.31.tar, verified with $BERTH_BUNDLE_KEY or ~/.cache/berth/keys/bundle.pub.
func labBundle(t *testing.T) *bundles.Bundle {
	t.Helper()
	slow(t, "reads the lab bundle")
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("BERTH_BUNDLE")
	if path == "" {
		path = filepath.Join(base, "berth", "bundles", "lab-v1.31.tar")
	}
	keyPath := os.Getenv("BERTH_BUNDLE_KEY")
	if keyPath == "" {
		keyPath = filepath.Join(base, "berth", "keys", "bundle.pub")
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, "lab bundle %s (build it: hack/build-lab-bundle.sh)", path)
	}
	pub, err := bundles.LoadPublicKey(keyPath)
	if err != nil {
		missing(t, "the lab bundle's public key: %v", err)
	}
	b, err := bundles.Open(context.Background(), path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLabBundleCoversKubeadm runs the bundle's own kubeadm: it must know its version, and every image
// `kubeadm config images list` names for that version must be in the bundle under exactly that ref.
func TestLabBundleCoversKubeadm(t *testing.T) {
	b := labBundle(t)
	dir := t.TempDir()
	if _, err := b.Extract(context.Background(), dir, bundles.Filter{Kinds: []bundles.FileKind{bundles.KindBinary, bundles.KindCNI}}); err != nil {
		t.Fatal(err)
	}
	kubeadm := filepath.Join(dir, "bin", "kubeadm")
	v, err := exec.Command(kubeadm, "version", "-o", "short").Output()
	if err != nil || strings.TrimSpace(string(v)) != b.Manifest.KubernetesVersion {
		t.Fatalf("kubeadm version = %q (%v), want %s", v, err, b.Manifest.KubernetesVersion)
	}
	out, err := exec.Command(kubeadm, "config", "images", "list", "--kubernetes-version", b.Manifest.KubernetesVersion).Output()
	if err != nil {
		t.Fatalf("kubeadm config images list: %v", err)
	}
	refs := strings.Fields(string(out))
	if len(refs) < 7 {
		t.Fatalf("kubeadm lists only %v", refs)
	}
	for _, r := range refs {
		if _, ok := b.Manifest.Image(r); !ok {
			t.Errorf("kubeadm %s needs %s, which the bundle lacks", b.Manifest.KubernetesVersion, r)
		}
	}
	t.Logf("kubeadm %s: all %d images present: %v", b.Manifest.KubernetesVersion, len(refs), refs)
	for _, bin := range []string{"kubelet", "kubectl"} {
		out, err := exec.Command(filepath.Join(dir, "bin", bin), "--version").CombinedOutput()
		if bin == "kubectl" {
			out, err = exec.Command(filepath.Join(dir, "bin", bin), "version", "--client").CombinedOutput()
		}
		if err != nil || !strings.Contains(string(out), b.Manifest.KubernetesVersion) {
			t.Errorf("%s reports %q (%v), want %s", bin, out, err, b.Manifest.KubernetesVersion)
		}
	}
}

// TestLabBundleContents checks the rest of what an install needs is there: host packages, CNI plugins, the
// multi-node CNI and DNS images.
func TestLabBundleContents(t *testing.T) {
	b := labBundle(t)
	m := b.Manifest
	have := map[string]bool{}
	for _, p := range m.Packages {
		have[p.Name] = true
	}
	for _, p := range []string{"containerd", "runc", "keepalived", "haproxy", "conntrack", "socat", "ebtables", "ipset", "dnsmasq"} {
		if !have[p] {
			t.Errorf("package %s missing", p)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap", "bandwidth", "flannel"} {
		if _, ok := m.FileByPath("bin/cni/" + p); !ok {
			t.Errorf("CNI plugin bin/cni/%s missing", p)
		}
	}
	for _, p := range []string{"bin/kubeadm", "bin/kubelet", "bin/kubectl"} {
		if _, ok := m.FileByPath(p); !ok {
			t.Errorf("%s missing", p)
		}
	}
	var flannel, dnsmasq bool
	for _, im := range m.Images {
		for _, r := range im.Refs {
			flannel = flannel || strings.Contains(r, "flannel")
			dnsmasq = dnsmasq || strings.Contains(r, "dnsmasq")
		}
	}
	if !flannel || !dnsmasq {
		t.Errorf("flannel image %v, dnsmasq image %v", flannel, dnsmasq)
	}
}

// TestLabBundleImagesRunInContainerd imports every image of the lab bundle into a private containerd and runs
// the tools the images must carry: iptables and conntrack for kube-proxy, iptables for flanneld, dnsmasq.
func TestLabBundleImagesRunInContainerd(t *testing.T) {
	b := labBundle(t)
	c := startContainerd(t)
	archive := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, im := range b.Manifest.Images {
		refs = append(refs, im.Refs...)
	}
	if err := b.WriteImageArchive(context.Background(), f, refs...); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := c.ctr("images", "import", archive); err != nil {
		t.Fatal(err)
	}
	list, _ := c.ctr("images", "ls", "-q")
	for _, r := range refs {
		if !strings.Contains(list, r) {
			t.Errorf("containerd lacks %s after import", r)
		}
	}
	img := func(part string) string {
		for _, r := range refs {
			if strings.Contains(r, part) {
				return r
			}
		}
		t.Fatalf("no image like %s", part)
		return ""
	}
	checks := []struct {
		image string
		cmd   []string
		want  string
	}{
		{img("kube-proxy"), []string{"/usr/sbin/iptables", "--version"}, "nf_tables"},
		{img("kube-proxy"), []string{"/usr/sbin/conntrack", "--version"}, "conntrack"},
		{img("kube-proxy"), []string{"/usr/local/bin/kube-proxy", "--version"}, b.Manifest.KubernetesVersion},
		{img("flannel"), []string{"/usr/sbin/ip6tables", "--version"}, "nf_tables"},
		{img("flannel"), []string{"/opt/bin/flanneld", "--version"}, "v0."},
		{img("flannel"), []string{"/bin/sh", "-c", "cp /flannel /tmp/flannel && /tmp/flannel 2>&1; echo copied"}, "copied"},
		{img("dnsmasq"), []string{"/usr/sbin/dnsmasq", "--version"}, "Dnsmasq version"},
		{img("etcd:"), []string{"/usr/local/bin/etcd", "--version"}, "etcd Version: 3.5"},
		{img("etcd:"), []string{"/usr/local/bin/etcdctl", "version"}, "etcdctl version: 3.5"},
		{img("coredns"), []string{"/coredns", "-version"}, "CoreDNS-1."},
		{img("kube-apiserver"), []string{"kube-apiserver", "--version"}, b.Manifest.KubernetesVersion},
	}
	for i, ck := range checks {
		out, err := c.ctr(append([]string{"run", "--rm", ck.image, fmt.Sprintf("check-%d", i)}, ck.cmd...)...)
		if err != nil || !strings.Contains(out, ck.want) {
			t.Errorf("%s %v: %v\n%s", ck.image, ck.cmd, err, out)
		}
	}
}

// baselineList is what the lab spec assumes a host already has (its deb source's baseline).
var baselineList = []string{"systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iptables", "conntrack",
	"ca-certificates", "procps", "sudo", "kmod"}

// TestLabBundlePackagesInstallOffline installs every .deb of the lab bundle with `dpkg -i` into a fresh minimal
// Debian 12 (debootstrap minbase plus the baseline), with no network and no apt: the closure must be complete.
func TestLabBundlePackagesInstallOffline(t *testing.T) {
	b := labBundle(t)
	requireTools(t, "debootstrap", "chroot")
	if os.Geteuid() != 0 {
		missing(t, "root, to debootstrap and chroot")
	}
	rootfs := baselineRootfs(t)
	root := filepath.Join(t.TempDir(), "host")
	if out, err := exec.Command("cp", "-a", rootfs, root).CombinedOutput(); err != nil {
		t.Fatalf("copy baseline: %v: %s", err, out)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	// Services must not start inside the chroot; on a real host they do.
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Extract(context.Background(), filepath.Join(root, "tmp", "bundle"), bundles.Filter{Kinds: []bundles.FileKind{bundles.KindPackage}}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chroot", root, "sh", "-c", "dpkg -i /tmp/bundle/packages/"+b.Manifest.Target.Distro+"/*.deb").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -i of the bundle's packages on a baseline host failed: %v\n%s", err, tail(string(out), 40))
	}
	if out, err := exec.Command("chroot", root, "dpkg", "--audit").CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("dpkg --audit after install: %v\n%s", err, out)
	}
	for _, cmd := range [][]string{{"containerd", "--version"}, {"runc", "--version"}, {"haproxy", "-v"},
		{"keepalived", "--version"}, {"dnsmasq", "--version"}, {"socat", "-V"}, {"ipset", "version"}, {"ebtables", "--version"}} {
		if out, err := exec.Command("chroot", append([]string{root}, cmd...)...).CombinedOutput(); err != nil {
			t.Errorf("%v after install: %v\n%s", cmd, err, out)
		}
	}
	t.Logf("%d packages installed offline on a baseline Debian 12", len(b.Manifest.Packages))
}

// baselineRootfs returns a debootstrapped Debian 12 minbase with the baseline packages, cached under
// ~/.cache/berth/bundle/baseline/.
func baselineRootfs(t *testing.T) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "berth", "bundle", "baseline", key(baselineList)[:16])
	rootfs := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return rootfs
	}
	mirror, err := debianMirror()
	if err != nil {
		missing(t, "a Debian mirror in the apt sources: %v", err)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap the baseline host into %s (once per machine)", rootfs)
	out, err := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(baselineList, ","), "bookworm", rootfs, mirror).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(string(out), 30))
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// debianMirror reads the Debian archive this machine's apt uses (the first source for the bookworm suite).
func debianMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			switch {
			case len(fields) >= 3 && fields[0] == "deb" && fields[2] == "bookworm":
				return fields[1], nil
			case len(fields) >= 2 && fields[0] == "URIs:":
				uri = fields[1]
			case len(fields) >= 2 && fields[0] == "Suites:" && uri != "":
				for _, s := range fields[1:] {
					if s == "bookworm" {
						return uri, nil
					}
				}
			}
		}
	}
	return "", fmt.Errorf("no source for bookworm in /etc/apt/sources.list*")
}
