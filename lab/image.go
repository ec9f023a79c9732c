package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// imageFiles holds the setup script and the units baked into the image; they are part of the recipe.
//
//go:embed image
var imageFiles embed.FS

// initPath is PID 1 of a lab host: a wrapper that makes the cgroup mounts writable and execs systemd.
const initPath = "/usr/local/sbin/berth-lab-init"

// Image repositories: the raw debootstrap root file system, and the host image made from it by the setup script.
const (
	rootfsRepo = "berth-lab-rootfs"
	imageRepo  = "berth-lab-base"
)

// recipe is everything that decides the content of the base image. Its digests tag the images and name the cached
// root file system, so a changed recipe builds a new image and an unchanged one is reused.
type recipe struct {
	Suite    string
	Variant  string
	Packages []string
}

// baseRecipe is the lab host: a minimal Debian 12 server with systemd and OpenSSH, and nothing berth installs
// (no containerd, no Kubernetes: those come from the bundle).
func baseRecipe() recipe {
	return recipe{
		Suite:   "bookworm",
		Variant: "minbase",
		Packages: []string{
			"systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iptables", "conntrack",
			"ca-certificates", "procps", "sudo", "kmod", "less", "iputils-ping", "netbase",
		},
	}
}

// debootstrapArgs are the arguments of the debootstrap run, before the target directory and mirror.
func (r recipe) debootstrapArgs(cacheDir string) []string {
	pkgs := append([]string(nil), r.Packages...)
	sort.Strings(pkgs)
	args := []string{"--variant=" + r.Variant, "--include=" + strings.Join(pkgs, ",")}
	if cacheDir != "" {
		args = append(args, "--cache-dir="+cacheDir)
	}
	return append(args, r.Suite)
}

// rootfsDigest identifies the debootstrap root file system.
func (r recipe) rootfsDigest() string {
	h := sha256.New()
	fmt.Fprintf(h, "berth lab rootfs v1\n%q\n", r.debootstrapArgs(""))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// imageDigest identifies the host image: the root file system plus every file of the setup step.
func (r recipe) imageDigest() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "berth lab image v1\n%s\n", r.rootfsDigest())
	err := fs.WalkDir(imageFiles, "image", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := imageFiles.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest image recipe: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// DefaultCacheDir returns where the lab keeps its build cache: $XDG_CACHE_HOME/berth/lab, by default
// ~/.cache/berth/lab.
func DefaultCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "berth", "lab"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the lab cache directory: %w", err)
	}
	return filepath.Join(home, ".cache", "berth", "lab"), nil
}

// ensureImage returns the tag of the host image, building what is missing: the image from the root file system
// image, that from the cached root file system tarball, and that with debootstrap.
func ensureImage(ctx context.Context, cli *client.Client, cacheDir string, log *slog.Logger) (string, error) {
	r := baseRecipe()
	digest, err := r.imageDigest()
	if err != nil {
		return "", err
	}
	tag := imageRepo + ":" + digest
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		return tag, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create lab cache: %w", err)
	}
	lock, err := lockFile(ctx, filepath.Join(cacheDir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer lock.unlock()
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		return tag, nil // another process built it while this one waited
	}
	rootfsTag := rootfsRepo + ":" + r.rootfsDigest()
	if _, err := cli.ImageInspect(ctx, rootfsTag); err != nil {
		tarball := filepath.Join(cacheDir, "rootfs-"+r.rootfsDigest()+".tar")
		if _, err := os.Stat(tarball); err != nil {
			log.Info("building the lab base image with debootstrap (once per recipe; a few minutes)", "cache", tarball)
			if err := debootstrap(ctx, r, cacheDir, tarball, log); err != nil {
				return "", err
			}
		}
		log.Info("importing the lab root file system", "tarball", tarball)
		if err := importTarball(ctx, cli, tarball, rootfsTag, r.rootfsDigest()); err != nil {
			return "", err
		}
	}
	log.Info("configuring the lab host image", "image", tag)
	if err := runSetup(ctx, cli, rootfsTag, tag, digest); err != nil {
		return "", err
	}
	pruneImages(ctx, cli, imageRepo, tag, log)
	return tag, nil
}

func importTarball(ctx context.Context, cli *client.Client, tarball, tag, digest string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("import lab root file system: %w", err)
	}
	defer f.Close()
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: f, SourceName: "-"}, tag,
		image.ImportOptions{Changes: []string{"LABEL " + labelImage + "=" + digest}})
	if err != nil {
		return fmt.Errorf("import lab root file system %s: %w", tarball, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("import lab root file system %s: %w", tarball, err)
	}
	if strings.Contains(string(out), `"error"`) {
		return fmt.Errorf("import lab root file system %s: %s", tarball, strings.TrimSpace(string(out)))
	}
	return nil
}

// runSetup runs image/setup.sh in a container of the root file system and commits the result as the host image.
func runSetup(ctx context.Context, cli *client.Client, from, tag, digest string) error {
	name := "berth-lab-setup-" + digest
	_ = cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: from,
		Cmd: []string{"/bin/sh", "/tmp/berth-image/setup.sh"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, name)
	if err != nil {
		return fmt.Errorf("create image setup container: %w", err)
	}
	defer cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	var files []tarFile
	err = fs.WalkDir(imageFiles, "image", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := imageFiles.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, tarFile{Path: path.Join("/tmp/berth-image", strings.TrimPrefix(p, "image/")), Mode: 0o755, Data: data})
		return nil
	})
	if err != nil {
		return fmt.Errorf("pack image setup files: %w", err)
	}
	buf, err := tarOf(files)
	if err != nil {
		return err
	}
	if err := cli.CopyToContainer(ctx, created.ID, "/", buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy image setup files: %w", err)
	}
	waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start image setup: %w", err)
	}
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			return fmt.Errorf("image setup (lab/image/setup.sh) exited %d: %s", res.StatusCode, containerLogs(ctx, cli, created.ID))
		}
	case err := <-errC:
		return fmt.Errorf("wait for image setup: %w", err)
	}
	_, err = cli.ContainerCommit(ctx, created.ID, container.CommitOptions{Reference: tag,
		Comment: "berth lab host image " + digest,
		Config: &container.Config{Cmd: []string{initPath}, Env: []string{"container=docker"},
			StopSignal: "SIGRTMIN+3", Labels: map[string]string{labelImage: digest}}})
	if err != nil {
		return fmt.Errorf("commit lab host image: %w", err)
	}
	return nil
}

// pruneImages removes older images of repo, and untagged lab images, that no container uses any more; errors only
// get logged.
func pruneImages(ctx context.Context, cli *client.Client, repo, keep string, log *slog.Logger) {
	var victims []string
	if imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo))}); err == nil {
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				if t != keep {
					victims = append(victims, t)
				}
			}
		}
	}
	dangling := filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", labelImage))
	if imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: dangling}); err == nil {
		for _, img := range imgs {
			victims = append(victims, img.ID)
		}
	}
	for _, v := range victims {
		if _, err := cli.ImageRemove(ctx, v, image.RemoveOptions{}); err != nil && !cerrdefs.IsConflict(err) {
			log.Debug("keep old lab image", "image", v, "err", err)
		}
	}
}

func containerLogs(ctx context.Context, cli *client.Client, id string) string {
	rc, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "30"})
	if err != nil {
		return "(no logs: " + err.Error() + ")"
	}
	defer rc.Close()
	var b bytes.Buffer
	_, _ = stdcopy.StdCopy(&b, &b, io.LimitReader(rc, 64<<10))
	return strings.TrimSpace(b.String())
}
