package installer_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
)

// registryLab is the lab of the registry benchmark: a node that pulls and two registry hosts.
var registryLab = lab.Options{Name: "bench-registry", ControlPlanes: 1, Workers: 1, Registries: 2}

// BenchmarkRegistry measures, on a fresh lab with two registry hosts:
//   - seeding: the install's registries phase filling both System replicas with the lab bundle's images (time and
//     bytes), beside the floor of moving the same bytes over the same SSH connections as plain files;
//   - pulling: a worker pulling the largest image it lacks from a replica over the storage plane through containerd,
//     beside the floor of the same bytes over a bare TCP connection between the same two hosts on that plane.
//
// Run it with make bench-registry.
func BenchmarkRegistry(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the lab and the lab bundle")
	}
	env := freshLab(b, registryLab)
	b.Cleanup(func() { lab.Down(context.Background(), registryLab.Name, "") })
	// The System registry alone, without a VIP: the registries phase is then the engine, the listeners and the fill,
	// with nothing else in its time (no keepalived packages, no User registry and its sync service).
	env.invPath, env.inv = env.editedInventory(b, "bench", func(inv *inventory.Inventory) {
		inv.Registries = inv.Registries[:1]
		inv.Registries[0].VIP, inv.Registries[0].VirtualRouterID = "", 0
	})
	ctx := context.Background()
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		b.Fatal(err)
	}
	bun, err := bundles.Open(ctx, env.bundle, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		b.Fatal(err)
	}

	// Seeding: the install up to the images phase, then the registries phase alone, timed by berth itself.
	if code, stdout, stderr := env.run(b, 30*time.Minute, env.installArgs("--skip-phases", "registries,registry-mirrors,load-balancer,init,join-secrets,join-control-planes,join-workers,cni,dns,dns-cache,nodes")...); code != 0 {
		b.Fatalf("install up to the images: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Phases []struct {
			Name     string
			Duration time.Duration
		}
	}
	code, stdout, stderr := env.run(b, 30*time.Minute, "install", "phase", "registries", "-i", env.invPath, "-b", env.bundle, "--key", env.key,
		"--state-dir", env.stateDir, "--yes", "-o", "json")
	if code != 0 {
		b.Fatalf("registries phase: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		b.Fatalf("%v\n%s", err, stdout)
	}
	var seed time.Duration
	for _, p := range res.Phases {
		if p.Name == "registries" {
			seed = p.Duration
		}
	}
	var blobs []bundles.File
	var blobBytes int64
	seen := map[string]bool{}
	for _, im := range bun.Manifest.Images {
		for _, d := range im.Blobs() {
			if f, ok := bun.Manifest.FileByPath(bundles.BlobPath(d)); ok && !seen[d] {
				seen[d] = true
				blobs = append(blobs, f)
				blobBytes += f.Size
			}
		}
	}
	var registries []*inventory.Host
	for _, h := range env.inv.Hosts {
		if h.Has(inventory.RoleRegistry) {
			registries = append(registries, env.inv.Host(h.Name))
		}
	}
	// The floor: the same blobs as files, to both hosts at once, over the same SSH connections.
	cacheDir, err := installer.DefaultCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	local := filepath.Join(cacheDir, strings.TrimPrefix(bun.ManifestDigest, "sha256:"))
	start := time.Now()
	errs := make(chan error, len(registries))
	for _, h := range registries {
		go func(h *inventory.Host) {
			e, err := env.pool.Get(h.Name)
			if err != nil {
				errs <- err
				return
			}
			files := make([]remote.File, len(blobs))
			for i, f := range blobs {
				files[i] = remote.File{Src: filepath.Join(local, filepath.FromSlash(f.Path)), Dst: "/var/tmp/berth-bench/" + filepath.Base(f.Path), Mode: 0o600}
			}
			_, err = e.PutFiles(ctx, files, nil)
			errs <- err
		}(h)
	}
	for range registries {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	floor := time.Since(start)
	mib := float64(blobBytes*int64(len(registries))) / (1 << 20)
	b.ReportMetric(seed.Seconds(), "seed-s")
	b.ReportMetric(floor.Seconds(), "ssh-floor-s")
	figure(b, "seeding %d System replicas with the lab bundle's %d images: %s of blobs each, %s in all, in %s (%.1f MiB/s); the same bytes as plain files over the same SSH connections: %s (%.1f MiB/s); ratio %.2f",
		len(registries), len(bun.Manifest.Images), airgap.HumanBytes(blobBytes), airgap.HumanBytes(blobBytes*int64(len(registries))),
		seed.Round(time.Millisecond), mib/seed.Seconds(), floor.Round(time.Millisecond), mib/floor.Seconds(), seed.Seconds()/floor.Seconds())

	// Pulling: the worker pulls the largest control-plane image, which it lacks, through containerd from registry1
	// (the first address of its mirror configuration), over the storage plane.
	if code, stdout, stderr := env.run(b, 30*time.Minute, env.installArgs()...); code != 0 {
		b.Fatalf("install: exit %d\n%s\n%s", code, stdout, stderr)
	}
	worker := env.inv.Workers()[0]
	var big bundles.Image
	var bigBytes int64
	for _, im := range bun.Manifest.Images {
		var n int64
		for _, l := range im.Layers {
			f, _ := bun.Manifest.FileByPath(bundles.BlobPath(l))
			n += f.Size
		}
		if strings.Contains(im.Refs[0], "kube-") && n > bigBytes {
			big, bigBytes = im, n
		}
	}
	out, err := env.exec(b, worker.Name, fmt.Sprintf("s=$(date +%%s.%%N); ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d %s >/dev/null && e=$(date +%%s.%%N); echo $s $e", big.Refs[0]))
	if err != nil {
		b.Fatalf("pull %s on %s: %v\n%s", big.Refs[0], worker.Name, err, out)
	}
	pull := elapsed(b, out)
	// The floor: the image's layers as one stream over bare TCP from registry1 to the worker on the storage plane.
	reg := registries[0]
	addr := net.JoinHostPort(reg.AddressOn(inventory.StorageNet), "7070")
	var layerFiles []string
	for _, l := range big.Layers {
		layerFiles = append(layerFiles, "/var/tmp/berth-bench/"+strings.TrimPrefix(l, "sha256:"))
	}
	serve := fmt.Sprintf(`perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>"%s",Listen=>1,ReuseAddr=>1) or die $!; $c=$s->accept; for $f (@ARGV) { open F,"<",$f or die $!; binmode F; while (read(F,$b,1<<20)) { print $c $b } close F } close $c' %s >/dev/null 2>&1 &`,
		addr, strings.Join(layerFiles, " "))
	if _, err := env.exec(b, reg.Name, serve); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	out, err = env.exec(b, worker.Name, fmt.Sprintf(`s=$(date +%%s.%%N); perl -MIO::Socket::INET -e '$c=IO::Socket::INET->new(PeerAddr=>"%s") or die $!; while (sysread($c,$b,1<<20)) {}' && e=$(date +%%s.%%N); echo $s $e`, addr))
	if err != nil {
		b.Fatalf("TCP floor: %v\n%s", err, out)
	}
	tcp := elapsed(b, out)
	pmib := float64(bigBytes) / (1 << 20)
	b.ReportMetric(pmib/pull.Seconds(), "pull-MiB/s")
	b.ReportMetric(pmib/tcp.Seconds(), "tcp-floor-MiB/s")
	figure(b, "pull through the System registry on the storage plane: %s (%s of layers) on %s in %s (%.1f MiB/s, containerd unpacking included); the same bytes over bare TCP between the same hosts: %s (%.1f MiB/s)",
		big.Refs[0], airgap.HumanBytes(bigBytes), worker.Name, pull.Round(time.Millisecond), pmib/pull.Seconds(), tcp.Round(time.Millisecond), pmib/tcp.Seconds())
}

// elapsed reads "start end" (seconds with fractions) printed by a host.
func elapsed(b *testing.B, out string) time.Duration {
	f := strings.Fields(out)
	if len(f) != 2 {
		b.Fatalf("timing: %q", out)
	}
	s, err1 := strconv.ParseFloat(f[0], 64)
	e, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("timing: %q", out)
	}
	return time.Duration((e - s) * float64(time.Second))
}
