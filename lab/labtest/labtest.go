// Package labtest gives tests a running lab: Require creates the lab a test package asks for (or reuses it, Up is
// idempotent) and decides what happens when this machine cannot run one.
package labtest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthsh/berth/lab"
)

// KeepEnv, set to 1, keeps test labs after the tests (DownAll does nothing), to look at them.
const KeepEnv = "BERTH_LAB_KEEP"

// upTimeout bounds one Require: the first run on a machine builds the host image with debootstrap.
const upTimeout = 15 * time.Minute

// Require returns a running lab for a test, creating it (or reusing it: Up is idempotent) with the given shape.
// Each test package uses its own lab name (e.g. "t-remote", "t-install") so packages running in parallel do not
// disturb each other. The lab is marked as a test lab and left running for the package's later tests;
// `berth lab down --tests` (or DownAll) removes test labs at the end of a run.
//
// It skips under -short. When Docker (or debootstrap, for the first image build) is missing, it skips unless CI
// is set, and fails when CI=true: on CI a missing prerequisite is a broken setup, not a reason to pass.
func Require(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a lab (Docker); skipped under -short")
	}
	if opts.Name == "" {
		t.Fatal("labtest.Require: give the lab a name of the test package's own, e.g. t-remote")
	}
	opts.Test = true
	if opts.Logger == nil {
		w := &testWriter{t: t}
		t.Cleanup(func() { w.done.Store(true) })
		opts.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	l, err := lab.Up(ctx, opts)
	if errors.Is(err, lab.ErrPrerequisite) {
		if InCI() {
			t.Fatalf("CI is set and the lab cannot run here: %v", err)
		}
		t.Skipf("lab unavailable on this machine (set CI=true to make this a failure): %v", err)
	}
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// RequireFresh is Require on a newly created lab that belongs to the calling test alone: a lab of the same name
// left by an earlier run (a cluster installed on it, say) is removed first, and the lab is removed when the test
// ends (kept with BERTH_LAB_KEEP=1), so that what the test installed does not load the machine for later tests.
func RequireFresh(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	down := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		err := lab.Down(ctx, opts.Name, opts.StateDir)
		if errors.Is(err, lab.ErrPrerequisite) {
			return nil // Require decides what a machine without Docker means
		}
		return err
	}
	if !testing.Short() && opts.Name != "" {
		if err := down(); err != nil {
			t.Fatalf("remove the earlier lab %s: %v", opts.Name, err)
		}
	}
	l := Require(t, opts)
	t.Cleanup(func() {
		if os.Getenv(KeepEnv) == "1" {
			return
		}
		if err := down(); err != nil {
			t.Errorf("remove lab %s: %v", opts.Name, err)
		}
	})
	return l
}

// RequireBundle returns the signed lab bundle and its public key: $BERTH_BUNDLE and $BERTH_BUNDLE_KEY, or the
// files hack/build-lab-bundle.sh writes under the user cache. When either is missing it skips, or fails when CI
// is set.
func RequireBundle(t testing.TB) (bundle, key string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the lab bundle; skipped under -short")
	}
	cache, _ := os.UserCacheDir()
	bundle = os.Getenv("BERTH_BUNDLE")
	if bundle == "" {
		bundle = filepath.Join(cache, "berth", "bundles", "lab-v1.31.tar")
	}
	key = os.Getenv("BERTH_BUNDLE_KEY")
	if key == "" {
		key = filepath.Join(cache, "berth", "keys", "bundle.pub")
	}
	for _, p := range []string{bundle, key} {
		if _, err := os.Stat(p); err != nil {
			if InCI() {
				t.Fatalf("CI is set and the lab bundle is missing (%v): build it with make bundle", err)
			}
			t.Skipf("no lab bundle (%v): build it with make bundle; set CI=true to make this a failure", err)
		}
	}
	return bundle, key
}

// RequireUpgradeBundle returns the signed lab bundle of the next minor, the one the upgrade tests move the lab to:
// $BERTH_UPGRADE_BUNDLE, or lab-v1.32.tar beside the lab bundle under the user cache (hack/build-lab-bundle.sh 1.32
// writes it). When it is missing it skips, or fails when CI is set.
func RequireUpgradeBundle(t testing.TB) string {
	t.Helper()
	return requireMinorBundle(t, "BERTH_UPGRADE_BUNDLE", "1.32", "make test")
}

// RequireHopBundle returns the signed lab bundle two minors past the lab bundle, the one the multi-hop upgrade
// (make e2e-multihop) ends on: $BERTH_HOP_BUNDLE, or lab-v1.33.tar under the user cache (hack/build-lab-bundle.sh
// 1.33 writes it). When it is missing it skips, or fails when CI is set.
func RequireHopBundle(t testing.TB) string {
	t.Helper()
	return requireMinorBundle(t, "BERTH_HOP_BUNDLE", "1.33", "make e2e-multihop")
}

// requireMinorBundle returns the lab bundle of a Kubernetes minor: $env, or lab-v<minor>.tar under the user cache.
// builtBy names the make target that builds it.
func requireMinorBundle(t testing.TB, env, minor, builtBy string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs the %s lab bundle; skipped under -short", minor)
	}
	bundle := os.Getenv(env)
	if bundle == "" {
		cache, _ := os.UserCacheDir()
		bundle = filepath.Join(cache, "berth", "bundles", "lab-v"+minor+".tar")
	}
	if _, err := os.Stat(bundle); err != nil {
		if InCI() {
			t.Fatalf("CI is set and the %s lab bundle is missing (%v): build it with hack/build-lab-bundle.sh %s (%s does)", minor, err, minor, builtBy)
		}
		t.Skipf("no %s lab bundle (%v): build it with hack/build-lab-bundle.sh %s; set CI=true to make this a failure", minor, err, minor)
	}
	return bundle
}

// InCI reports whether the tests run on CI (CI set to anything but "", "0" or "false").
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// DownAll removes every test lab on the Docker engine (the labs Require made) unless BERTH_LAB_KEEP=1, and returns
// their names. Call it from a TestMain after m.Run, or run `berth lab down --tests`.
func DownAll(ctx context.Context) ([]string, error) {
	if os.Getenv(KeepEnv) == "1" {
		return nil, nil
	}
	return lab.DownAll(ctx, true)
}

// testWriter sends log lines to t.Log, so they show up with the test that caused them; once that test is over
// (the lab may be kept and used by later tests) it writes to stderr instead.
type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if w.done.Load() {
		return os.Stderr.Write(p)
	}
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
