// Package bundletest writes small, complete, signed bundles shaped like the lab bundle (the same images, binaries
// and packages, with a few bytes each) for tests of other packages: plans, upgrades and patch bundles need real
// bundles, not the gigabyte of the lab's.
package bundletest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// Spec says what differs between test bundles; the zero value is the lab bundle's shape for Kubernetes v1.31.4.
type Spec struct {
	KubernetesVersion string            // "v1.31.4" when empty
	EtcdVersion       string            // the etcd image's tag, "3.5.15-0" when empty
	Arch              string            // "amd64" when empty
	Version           string            // the bundle's own version, "<kubernetes>-test" when empty
	Packages          map[string]string // Debian package name -> version; the lab's set when nil
	Extra             map[string]string // more images: name -> ref (a third-party image, say)
	Salt              string            // changes every blob's content, for bundles that share nothing
}

func (s Spec) withDefaults() Spec {
	if s.KubernetesVersion == "" {
		s.KubernetesVersion = "v1.31.4"
	}
	if s.EtcdVersion == "" {
		s.EtcdVersion = "3.5.15-0"
	}
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	if s.Version == "" {
		s.Version = s.KubernetesVersion + "-test"
	}
	if s.Packages == nil {
		s.Packages = map[string]string{"containerd": "1.6.20~ds1-1+deb12u1", "runc": "1.1.5+ds1-1+deb12u1",
			"keepalived": "1:2.2.7-1+b2", "haproxy": "2.6.12-1+deb12u2", "dnsmasq": "2.90-4~deb12u1"}
	}
	return s
}

// Key is a bundle signing key pair.
type Key struct {
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// NewKey makes a signing key pair.
func NewKey(t testing.TB) Key {
	t.Helper()
	pub, priv, err := bundles.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return Key{Public: pub, Private: priv}
}

// Verify returns the options that trust the key.
func (k Key) Verify() bundles.VerifyOptions {
	return bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{k.Public}}
}

// builder collects a bundle's files and manifest.
type builder struct {
	m       *bundles.Manifest
	content map[string][]byte
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (b *builder) add(p string, data []byte, kind bundles.FileKind) {
	if _, ok := b.content[p]; ok {
		return
	}
	b.content[p] = data
	b.m.Files = append(b.m.Files, bundles.File{Path: p, Size: int64(len(data)), SHA256: digest(data), Mode: 0o644, Kind: kind})
}

func (b *builder) blob(data []byte) string {
	d := "sha256:" + digest(data)
	b.add(bundles.BlobPath(d), data, bundles.KindImageBlob)
	return d
}

// image adds a one-layer image over a base layer that every image shares.
func (b *builder) image(name, ref, arch string, base, layer []byte) {
	im := bundles.Image{Name: name, Refs: []string{ref}, MediaType: "application/vnd.oci.image.manifest.v1+json"}
	var ls []map[string]any
	for _, l := range [][]byte{base, layer} {
		d := b.blob(l)
		im.Layers = append(im.Layers, d)
		ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(l)})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": im.Layers}})
	im.Config = b.blob(cfg)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": im.MediaType,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": im.Config, "size": len(cfg)}, "layers": ls})
	im.Digest = b.blob(man)
	im.Size = int64(len(man) + len(cfg) + len(base) + len(layer))
	b.m.Images = append(b.m.Images, im)
}

// Manifest returns the manifest and file contents of the bundle a spec describes.
func Manifest(s Spec) (*bundles.Manifest, map[string][]byte) {
	s = s.withDefaults()
	k := s.KubernetesVersion
	b := &builder{content: map[string][]byte{}, m: &bundles.Manifest{
		APIVersion: bundles.APIVersion, Kind: bundles.ManifestKind, Name: "test", Version: s.Version, KubernetesVersion: k,
		Target:     bundles.Target{OS: "linux", Arch: s.Arch, Distro: "debian-12"},
		Components: []bundles.Component{{Name: "kubernetes", Version: k, Source: "bundletest"}},
		Provenance: bundles.Provenance{SpecName: "bundletest", SpecDigest: "sha256:" + digest([]byte(k+s.Salt)), Builder: "bundletest",
			BuildTime: time.Unix(1700000000, 0).UTC()},
	}}
	content := func(what string) []byte { return []byte(what + " " + s.Salt) }
	for _, bin := range []string{"kubeadm", "kubelet", "kubectl", "etcdctl"} {
		version := k
		if bin == "etcdctl" {
			version = s.EtcdVersion
		}
		b.add("bin/"+bin, content(bin+" "+version+" "+s.Arch), bundles.KindBinary)
	}
	for _, cni := range []string{"bridge", "host-local", "loopback", "portmap", "flannel"} {
		b.add("bin/cni/"+cni, content("cni "+cni+" "+s.Arch), bundles.KindCNI)
	}
	b.add("files/registry/registry", content("registry v3.1.2 "+s.Arch), bundles.KindFile) // the registry engine, as the lab bundles carry it
	for _, name := range sortedKeys(s.Packages) {
		v := s.Packages[name]
		p := fmt.Sprintf("packages/debian-12/%s_%s_%s.deb", name, strings.ReplaceAll(v, ":", "%3a"), s.Arch)
		data := content("deb " + name + " " + v)
		b.add(p, data, bundles.KindPackage)
		b.m.Packages = append(b.m.Packages, bundles.Package{Name: name, Version: v, Arch: s.Arch, Path: p,
			SHA256: digest(data), Size: int64(len(data)), Requested: true})
	}
	base := content("base layer " + s.Arch)
	images := map[string]string{
		"kube-apiserver":          "registry.k8s.io/kube-apiserver:" + k,
		"kube-controller-manager": "registry.k8s.io/kube-controller-manager:" + k,
		"kube-scheduler":          "registry.k8s.io/kube-scheduler:" + k,
		"kube-proxy":              "registry.k8s.io/kube-proxy:" + k,
		"etcd-image":              "registry.k8s.io/etcd:" + s.EtcdVersion,
		"coredns-image":           "registry.k8s.io/coredns/coredns:v1.11.3",
		"pause-image":             "registry.k8s.io/pause:3.10",
		"flannel-image":           "ghcr.io/flannel-io/flannel:v0.28.4",
		"dnsmasq-image":           "berth.sh/dnsmasq:2.90",
		"dns-health-image":        "berth.sh/dns-health:0.2.0",
		"local-path-image":        "berth.sh/local-path-provisioner:v0.0.30",
		"local-path-helper-image": "berth.sh/busybox:1.35.0",
	}
	for n, ref := range s.Extra {
		images[n] = ref
	}
	for _, name := range sortedKeys(images) {
		b.image(name, images[name], s.Arch, base, content("layer "+images[name]+" "+s.Arch))
	}
	sort.Slice(b.m.Files, func(i, j int) bool { return b.m.Files[i].Path < b.m.Files[j].Path })
	idx, err := b.m.OCIIndex(b.m.Images)
	if err != nil {
		panic(err) // the images above are always indexable
	}
	b.add(bundles.ImagesDir+"index.json", idx, bundles.KindImageIndex)
	b.add(bundles.ImagesDir+"oci-layout", []byte(bundles.OCILayoutFile), bundles.KindImageIndex)
	sort.Slice(b.m.Files, func(i, j int) bool { return b.m.Files[i].Path < b.m.Files[j].Path })
	return b.m, b.content
}

// Write writes the bundle a spec describes, signed with key, into dir and returns its path.
func Write(t testing.TB, dir string, s Spec, key Key) string {
	t.Helper()
	m, content := Manifest(s)
	out := filepath.Join(dir, "bundle-"+m.Version+".tar")
	err := bundles.Write(context.Background(), out, m, func(f bundles.File) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content[f.Path])), nil
	}, bundles.WriteOptions{SignKey: key.Private})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Open writes the bundle a spec describes and opens it, verified with key.
func Open(t testing.TB, dir string, s Spec, key Key) *bundles.Bundle {
	t.Helper()
	b, err := bundles.Open(context.Background(), Write(t, dir, s, key), key.Verify())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
