package phase

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockHelperProcess is not a test: it holds a lock in a child process for the lock tests.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("BERTH_LOCK_HELPER")
	if path == "" {
		t.Skip("helper process only")
	}
	l, err := AcquireLock(path, LockOptions{Command: "berth install (helper)"})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	l.Release()
	os.Exit(0)
}

// holdLockInChild starts a process holding the lock at path and returns it once it holds it.
func holdLockInChild(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "BERTH_LOCK_HELPER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q", line)
	}
	return cmd
}

func TestLockLiveHolderRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	child := holdLockInChild(t, path)
	_, err := AcquireLock(path, LockOptions{Command: "berth install"})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want LockedError", err)
	}
	if le.Holder.PID != child.Process.Pid {
		t.Fatalf("holder pid %d, want %d", le.Holder.PID, child.Process.Pid)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", child.Process.Pid), "berth install (helper)", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
}

func TestLockStaleAfterHolderDied(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	child := holdLockInChild(t, path)
	pid := child.Process.Pid
	child.Process.Kill() // SIGKILL: no chance to release
	child.Wait()
	l, err := AcquireLock(path, LockOptions{Command: "berth install"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if !strings.Contains(l.TookOver, fmt.Sprintf("pid %d", pid)) || !strings.Contains(l.TookOver, "gone") {
		t.Fatalf("TookOver = %q", l.TookOver)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock mode %o", fi.Mode().Perm())
	}
	if l.Info().PID != os.Getpid() {
		t.Fatal("lock does not name this process")
	}
}

func TestLockInProcessAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	l, err := AcquireLock(path, LockOptions{Command: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(path, LockOptions{Command: "two"}); err == nil {
		t.Fatal("second lock taken while the first is held")
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if fileExists(path) {
		t.Fatal("release left the lock file")
	}
	l2, err := AcquireLock(path, LockOptions{Command: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if l2.TookOver != "" {
		t.Fatalf("clean release reported as stale: %s", l2.TookOver)
	}
	l2.Release()
}

func TestLockHolderOnAnotherMachine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		heartbeat time.Time
		wantErr   string
		wantTook  string
	}{
		{name: "fresh heartbeat", heartbeat: now.Add(-30 * time.Second), wantErr: "heartbeat is 30s old (stale after 2m0s)"},
		{name: "old heartbeat", heartbeat: now.Add(-10 * time.Minute), wantTook: "no heartbeat for 10m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockFile)
			info := LockInfo{PID: 4242, Machine: "jumpbox-7", User: "ops", Command: "berth upgrade apply",
				Started: now.Add(-time.Hour), Heartbeat: tc.heartbeat}
			b, _ := json.Marshal(info)
			os.WriteFile(path, b, 0o600)
			l, err := AcquireLock(path, LockOptions{Command: "berth install", Now: func() time.Time { return now }})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "jumpbox-7") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if !strings.Contains(l.TookOver, tc.wantTook) {
				t.Fatalf("TookOver = %q", l.TookOver)
			}
		})
	}
}

func TestLockHeartbeat(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	var tick int64
	now := func() time.Time { tick++; return time.Unix(1000+tick, 0) }
	l, err := AcquireLock(path, LockOptions{Command: "x", Heartbeat: 10 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		var info LockInfo
		if json.Unmarshal(b, &info) == nil && info.Heartbeat.After(info.Started) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("heartbeat never refreshed the lock file")
}

func TestStateDir(t *testing.T) {
	base := t.TempDir()
	dir, err := StateDir(base, "payments-uat")
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(base, "clusters", "payments-uat") {
		t.Fatalf("dir = %s", dir)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %o", fi.Mode().Perm())
	}
	if _, err := StateDir(base, "../etc"); err == nil {
		t.Fatal("path-like cluster name accepted")
	}
	t.Setenv("XDG_STATE_HOME", base)
	if d, _ := StateDir("", "c1"); d != filepath.Join(base, "berth", "clusters", "c1") {
		t.Fatalf("XDG dir = %s", d)
	}
}
