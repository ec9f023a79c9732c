package localfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 1025), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"fifo", fifo, "is a named pipe (FIFO), not a regular file"},
		{"directory", dir, "is a directory, not a regular file"},
		{"device", "/dev/zero", "is a character device, not a regular file"},
		{"too large", big, "is larger than 1 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, _, err := Read(tc.path, 1024); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("Read(%s) = %v, want an error naming the path and %q", tc.path, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Read(%s) still blocked after 5 s", tc.path)
			}
		})
	}
}

func TestReadReturnsASmallFileAndItsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	data, st, err := Read(p, 1024)
	if err != nil || string(data) != "s3cret\n" {
		t.Fatalf("Read = %q, %v", data, err)
	}
	if !OthersCanRead(st) {
		t.Errorf("mode %v: group can read, OthersCanRead says no", st.Mode())
	}
	var tl *TooLargeError
	if _, _, err := Read(p, 3); !errors.As(err, &tl) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Read with a 3-byte limit = %v, want a TooLargeError without the content", err)
	}
}

func TestReadFollowsASymlinkToARegularFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if data, st, err := Read(link, 10); err != nil || string(data) != "k" || OthersCanRead(st) {
		t.Fatalf("Read(link) = %q, %v, %v", data, st, err)
	}
}
