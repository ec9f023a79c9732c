package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPauseExitsCleanlyOnSignal builds the pause command and checks it waits until SIGTERM or SIGINT and then
// exits 0, as the kubelet expects when it stops a pod sandbox.
func TestPauseExitsCleanlyOnSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("pause exited before any signal: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			// SIGCHLD must not stop it.
			cmd.Process.Signal(syscall.SIGCHLD)
			time.Sleep(100 * time.Millisecond)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause exited with %v after %v, want 0", err, sig)
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("pause ignored %v", sig)
			}
		})
	}
	if out, err := exec.Command(bin, "-v").Output(); err != nil || len(out) == 0 {
		t.Fatalf("pause -v: %v %q", err, out)
	}
	_ = os.Remove(bin)
}
