package bundles

import (
	"testing"
)

func TestCompare(t *testing.T) {
	a := newFixture(t)
	b := newFixture(t)
	// B: new kubeadm, a new etcd layer (pause unchanged, shared layer unchanged), socat upgraded, new component
	// version, chart removed, a file added.
	b.manifest = &Manifest{APIVersion: APIVersion, Kind: ManifestKind, Name: "fixture", Version: "v2", KubernetesVersion: "v1.32.5",
		Target: a.manifest.Target, Components: []Component{{Name: "kubernetes", Version: "v1.32.5"}, {Name: "flannel", Version: "v0.28.4"}}}
	b.content = map[string][]byte{}
	newKubeadm := []byte("kubeadm 1.32")
	b.add("bin/kubeadm", newKubeadm, KindBinary)
	b.add("bin/cni/bridge", a.content["bin/cni/bridge"], KindCNI)
	b.add("files/notes.txt", a.content["files/notes.txt"], KindFile)
	b.add("files/new.txt", []byte("new"), KindFile)
	deb := []byte("!<arch>\nsocat 1.8")
	b.add("packages/debian-12/socat_1.8_amd64.deb", deb, KindPackage)
	b.manifest.Packages = []Package{{Name: "socat", Version: "1.8", Arch: "amd64", Path: "packages/debian-12/socat_1.8_amd64.deb", SHA256: sha(deb), Size: int64(len(deb))}}
	shared := a.content[BlobPath(a.manifest.Images[0].Layers[0])]
	b.image("pause", []string{"registry.k8s.io/pause:3.10"}, shared, []byte("pause layer"))
	newLayer := []byte("etcd 3.5.16 layer")
	b.image("etcd", []string{"registry.k8s.io/etcd:3.5.16-0"}, shared, newLayer)
	b.finish(t)

	d := Compare(a.manifest, b.manifest)
	if d.KubernetesVersion.From != "v1.31.4" || d.KubernetesVersion.To != "v1.32.5" {
		t.Errorf("kubernetes change = %+v", d.KubernetesVersion)
	}
	expect := func(what string, got []Change, want []Change) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s changes = %+v, want %+v", what, got, want)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s change %d = %+v, want %+v", what, i, got[i], want[i])
			}
		}
	}
	etcdA, etcdB := a.manifest.Images[1].Digest, b.manifest.Images[1].Digest
	expect("components", d.Components, []Change{{Name: "flannel", To: "v0.28.4"}, {Name: "kubernetes", From: "v1.31.4", To: "v1.32.5"}})
	expect("images", d.Images, []Change{{Name: "example.test/etcd:3.5.15", From: etcdA}, {Name: "registry.k8s.io/etcd:3.5.15-0", From: etcdA},
		{Name: "registry.k8s.io/etcd:3.5.16-0", To: etcdB}})
	expect("packages", d.Packages, []Change{{Name: "socat", From: "1.7", To: "1.8"}})
	expect("charts", d.Charts, []Change{{Name: "demo", From: "0.1.0"}})
	expect("files", d.Files, []Change{{Name: "bin/kubeadm", From: sha(a.content["bin/kubeadm"]), To: sha(newKubeadm)}, {Name: "files/new.txt", To: sha([]byte("new"))}})

	// What moves: every file of B whose content A lacks.
	var want int64
	have := map[string]bool{}
	for _, f := range a.manifest.Files {
		have[f.SHA256] = true
	}
	for _, f := range b.manifest.Files {
		if !have[f.SHA256] {
			want += f.Size
		}
	}
	if d.BytesToMove != want || d.BytesToMove == 0 || d.BytesShared == 0 || d.BytesToMove+d.BytesShared != d.BytesTotal {
		t.Errorf("bytes: move %d shared %d total %d, want move %d", d.BytesToMove, d.BytesShared, d.BytesTotal, want)
	}
	if same := Compare(a.manifest, a.manifest); !same.Empty() || same.BytesToMove != 0 {
		t.Errorf("a bundle compared with itself changes: %+v", same)
	}
}

// TestCompareShowsTargetChange: two bundles that differ only in their target platform are not "no changes".
func TestCompareShowsTargetChange(t *testing.T) {
	a := newFixture(t)
	b := *a.manifest
	b.Target.Arch = "arm64"
	d := Compare(a.manifest, &b)
	if d.Empty() {
		t.Fatalf("amd64 -> arm64 compares as no change: %+v", d)
	}
	if d.Target.From != "linux/amd64 debian-12" || d.Target.To != "linux/arm64 debian-12" {
		t.Errorf("target change = %+v", d.Target)
	}
	if same := Compare(a.manifest, a.manifest); same.Target.From != same.Target.To {
		t.Errorf("a bundle compared with itself changes target: %+v", same.Target)
	}
}
