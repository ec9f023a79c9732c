package bundles

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeyFilesAreBoundedAndRegular points --key and --sign-key at a FIFO, a device, a directory and a file past
// the limit: each is refused at once with the path in the error.
func TestKeyFilesAreBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.pub")
	if err := os.WriteFile(large, []byte(strings.Repeat("-", 64<<10+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, want string }{
		{"fifo", fifo, "named pipe"},
		{"null", "/dev/null", "character device"},
		{"zero", "/dev/zero", "character device"},
		{"directory", dir, "directory"},
		{"large", large, "larger than 64 KiB"},
	}
	loaders := map[string]func(string) error{
		"public":  func(p string) error { _, err := LoadPublicKey(p); return err },
		"private": func(p string) error { _, err := LoadPrivateKey(p); return err },
	}
	for _, tc := range cases {
		for kind, load := range loaders {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				done := make(chan error, 1)
				go func() { done <- load(tc.path) }()
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
}
