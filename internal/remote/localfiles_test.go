package remote

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
)

// TestLocalFilesAreBoundedAndRegular points identity files and known_hosts at a FIFO, a device, a directory and
// a file past the limit: each is refused at once with the path in the error, and nothing blocks.
func TestLocalFilesAreBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	largeKey := filepath.Join(dir, "large_key")
	if err := os.WriteFile(largeKey, []byte(strings.Repeat("-", 64<<10+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A known_hosts past its limit: valid lines, so only the size can refuse it.
	line := knownhosts.Line([]string{"10.0.0.5"}, newHostKey(t)) + "\n"
	largeKH := filepath.Join(dir, "large_known_hosts")
	if err := os.WriteFile(largeKH, []byte(strings.Repeat(line, 4<<20/len(line)+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	knownHosts := func(p string) error {
		pol, err := newHostKeyPolicy("cp1", p, nil, "hosts[cp1].ssh.hostKeys")
		if err != nil {
			return err
		}
		cb, _, err := pol.callback("10.0.0.5:22")
		if err != nil {
			return err
		}
		return cb("10.0.0.5:22", &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 22}, newHostKey(t))
	}
	identity := func(p string) error { _, err := loadKey(p); return err }
	cases := []struct {
		name, path, want string
		load             func(string) error
	}{
		{"identity fifo", fifo, "named pipe", identity},
		{"identity zero", "/dev/zero", "character device", identity},
		{"identity directory", dir, "directory", identity},
		{"identity large", largeKey, "larger than 64 KiB", identity},
		{"known_hosts fifo", fifo, "named pipe", knownHosts},
		{"known_hosts zero", "/dev/zero", "character device", knownHosts},
		{"known_hosts directory", dir, "directory", knownHosts},
		{"known_hosts large", largeKH, "larger than 4 MiB", knownHosts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.load(tc.path) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("load %s = %.300v, want an error naming it and saying %q", tc.path, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("load %s still blocked after 5 s", tc.path)
			}
		})
	}
}
