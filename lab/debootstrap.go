package lab

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// debootstrap builds the recipe's root file system from the machine's Debian mirror and packs it into tarball.
// Downloaded packages stay in cacheDir/debs, so a changed recipe does not download everything again.
func debootstrap(ctx context.Context, r recipe, cacheDir, tarball string, log *slog.Logger) error {
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("build the lab image: debootstrap is not installed (run hack/deps.sh or apt-get install debootstrap): %w", ErrPrerequisite)
	}
	if _, err := exec.LookPath("tar"); err != nil {
		return fmt.Errorf("build the lab image: tar is not installed: %w", ErrPrerequisite)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("build the lab image: debootstrap needs root: %w", ErrPrerequisite)
	}
	mirror, err := findMirror("/", r.Suite)
	if err != nil {
		return err
	}
	debs := filepath.Join(cacheDir, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return fmt.Errorf("create debootstrap cache: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, "rootfs-build-")
	if err != nil {
		return fmt.Errorf("create debootstrap work dir: %w", err)
	}
	defer os.RemoveAll(work)
	rootfs := filepath.Join(work, "rootfs")
	args := append(r.debootstrapArgs(debs), rootfs, mirror)
	start := time.Now()
	log.Info("debootstrap", "suite", r.Suite, "mirror", mirror, "packages", len(r.Packages))
	if _, err := run(ctx, bin, args...); err != nil {
		return fmt.Errorf("debootstrap %s from %s: %w", r.Suite, mirror, err)
	}
	log.Info("debootstrap done", "took", time.Since(start).Round(time.Second))
	tmp := tarball + ".tmp"
	_, err = run(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=security.capability",
		"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./var/cache/apt/archives/*.deb",
		"-C", rootfs, "-cf", tmp, ".")
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pack lab root file system: %w", err)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		return fmt.Errorf("pack lab root file system: %w", err)
	}
	return nil
}

// run runs a command and returns its combined output.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", name, err, lastLines(out.Bytes(), 15))
	}
	return out.Bytes(), nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
