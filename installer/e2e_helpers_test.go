package installer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// e2eEnv is a lab with everything the end-to-end tests of the install need.
type e2eEnv struct {
	lab      *lab.Lab
	invPath  string
	inv      *inventory.Inventory
	bundle   string // signed lab bundle
	key      string // its public key
	berth    string // berth binary built for the test
	stateDir string // --state-dir base
	netcheck string // netcheck binary (linux/amd64, static)
	pool     *remote.Pool
	secrets  *secretWatch // join secrets of the install, watched on every host
}

// NetcheckImage is the reference of the test tool's image in the lab's containerd.
const NetcheckImage = "berth.test/netcheck:e2e"

var buildOnce struct {
	sync.Once
	dir string
	err error
}

// buildTools builds berth and netcheck once per test binary.
func buildTools(t testing.TB) (berth, netcheck string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-e2e-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir = dir
		for _, b := range []struct{ out, pkg string }{
			{"berth", "github.com/berthsh/berth/cmd/berth"},
			{"netcheck", "./testdata/netcheck"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildOnce.err = fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return filepath.Join(buildOnce.dir, "berth"), filepath.Join(buildOnce.dir, "netcheck")
}

// freshLab returns a lab of the given shape with nothing installed: an earlier run's lab is removed first.
func freshLab(t testing.TB, opts lab.Options) *e2eEnv {
	t.Helper()
	bundle, key := labtest.RequireBundle(t)
	berth, netcheck := buildTools(t)
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := lab.Down(ctx, opts.Name, opts.StateDir); err != nil {
			t.Fatalf("remove the earlier lab %s: %v", opts.Name, err)
		}
		netcheckImageOnce.Delete(opts.Name) // the new lab's nodes have no netcheck image yet
	}
	l := labtest.Require(t, opts)
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	pool := action.NewPool(inv, nil)
	t.Cleanup(func() { pool.Close() })
	return &e2eEnv{lab: l, invPath: l.InventoryPath, inv: inv, bundle: bundle, key: key, berth: berth,
		stateDir: t.TempDir(), netcheck: netcheck, pool: pool}
}

// run runs berth with the bundle flags for install-like commands; it returns the exit code and output.
func (env *e2eEnv) run(t testing.TB, timeout time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.berth, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run berth %v: %v", args, err)
		}
		code = ee.ExitCode()
		// The end of the error output first, where a long log cut in the middle still shows it.
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		t.Logf("berth %s exited %d; its last lines:\n%s", args[0], code, strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
	return code, stdout.String(), stderr.String()
}

// installArgs are the flags of an install on this lab.
func (env *e2eEnv) installArgs(extra ...string) []string {
	return append([]string{"install", "-i", env.invPath, "-b", env.bundle, "--key", env.key, "--state-dir", env.stateDir, "--yes"}, extra...)
}

// kubeconfig returns the admin kubeconfig the install wrote.
func (env *e2eEnv) kubeconfig() string {
	return filepath.Join(env.stateDir, "clusters", env.inv.Metadata.Name, "kubeconfig")
}

// kube returns a client of the installed cluster (through the VIP, from this machine).
func (env *e2eEnv) kube(t testing.TB) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// exec runs a command on a lab host over SSH (as the sudo user).
func (env *e2eEnv) exec(t testing.TB, host, command string) (string, error) {
	t.Helper()
	e, err := env.pool.Get(host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.Exec(ctx, command)
}

var netcheckImageOnce sync.Map // lab name -> error

// loadNetcheck puts the netcheck binary on every node (/usr/local/bin/berth-netcheck) and its image into every
// node's containerd, the way an air-gapped site side-loads a test image.
func (env *e2eEnv) loadNetcheck(t testing.TB) {
	t.Helper()
	if v, ok := netcheckImageOnce.Load(env.lab.Name); ok && v == nil {
		return
	}
	archive := filepath.Join(t.TempDir(), "netcheck.tar")
	if err := writeNetcheckImage(env.netcheck, buildDNSLoad(t), archive, NetcheckImage); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, h := range env.inv.Nodes() {
		e, err := env.pool.Get(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.PutFiles(ctx, []remote.File{{Src: env.netcheck, Dst: "/usr/local/bin/berth-netcheck", Mode: 0o755},
			{Src: archive, Dst: "/var/tmp/berth-netcheck.tar", Mode: 0o644}}, nil); err != nil {
			t.Fatal(err)
		}
		if out, err := e.Exec(ctx, "ctr -n k8s.io images import /var/tmp/berth-netcheck.tar"); err != nil {
			t.Fatalf("import netcheck on %s: %v\n%s", h.Name, err, out)
		}
	}
	netcheckImageOnce.Store(env.lab.Name, nil)
}

// writeNetcheckImage writes a one-layer image holding netcheck (its entrypoint) and dnsload as a docker-archive tar.
func writeNetcheckImage(binary, dnsload, out, named string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, path string }{{"netcheck", binary}, {"dnsload", dnsload}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerData := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerData)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/netcheck"}})
	if err != nil {
		return err
	}
	img, err = mutate.ConfigFile(img, mustConfig(img, "linux", "amd64"))
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(named)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}

func mustConfig(img v1.Image, os, arch string) *v1.ConfigFile {
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os, arch
	return cf
}

// waitUntil polls cond every interval until it holds or timeout passes; it returns the last error.
func waitUntil(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
