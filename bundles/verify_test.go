package bundles

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVerifyNothingAfterSignature: a signed bundle whose archive ends right after manifest.yaml.sig. Verify
// returned nil, nil (a shadowed err), so verify and install panicked on the nil result. Every listed file must
// be reported missing, and a manifest that lists nothing verifies with a result.
func TestVerifyNothingAfterSignature(t *testing.T) {
	f := newFixture(t)
	head := readEntries(t, f.write(t, f.priv))[:2]
	truncated := writeEntries(t, head)
	expectRefused(t, truncated, f.opts(), "bin/kubeadm", "missing: listed in manifest.yaml but not in the archive")
	if b, err := Open(context.Background(), truncated, f.opts()); err == nil || b != nil {
		t.Fatalf("Open = %v, %v; want a refusal", b, err)
	}

	empty := newFixture(t)
	empty.manifest.Files, empty.manifest.Images, empty.manifest.Packages, empty.manifest.Charts = nil, nil, nil, nil
	res, err := Verify(context.Background(), empty.write(t, empty.priv), empty.opts())
	if err != nil || res == nil || res.Manifest == nil || !res.Signed || res.Files != 0 {
		t.Fatalf("Verify of a signed bundle that lists nothing = %+v, %v; want a result with 0 files", res, err)
	}
}

// TestVerifyNothingAfterManifest: the unsigned counterpart, accepted only with InsecureSkipSignature.
func TestVerifyNothingAfterManifest(t *testing.T) {
	f := newFixture(t)
	head := readEntries(t, f.write(t, nil))[:1]
	expectRefused(t, writeEntries(t, head), VerifyOptions{InsecureSkipSignature: true}, "bin/kubeadm", "missing")
	if _, err := Verify(context.Background(), writeEntries(t, head), f.opts()); err == nil || !strings.Contains(err.Error(), SignaturePath) {
		t.Fatalf("unsigned and truncated: %v", err)
	}
}

// TestBundlePathMustBeARegularFile: a FIFO given as the bundle blocked verify, install and inspect forever;
// a directory or a device is no bundle either. Each is refused at once, naming the path.
func TestBundlePathMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "bundle.tar")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	readers := map[string]func(string) error{
		"verify": func(p string) error {
			_, err := Verify(context.Background(), p, VerifyOptions{InsecureSkipSignature: true})
			return err
		},
		"open": func(p string) error {
			_, err := Open(context.Background(), p, VerifyOptions{InsecureSkipSignature: true})
			return err
		},
		"header": func(p string) error { _, err := ReadHeader(p, VerifyOptions{}); return err },
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "named pipe (FIFO), not a regular file"},
		{dir, "directory, not a regular file"},
		{"/dev/zero", "character device, not a regular file"},
	} {
		for name, read := range readers {
			t.Run(name+" "+filepath.Base(tc.path), func(t *testing.T) {
				done := make(chan error, 1)
				go func() { done <- read(tc.path) }()
				select {
				case err := <-done:
					var verr *VerifyError
					if !errors.As(err, &verr) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
						t.Fatalf("%s(%s) = %v, want a *VerifyError naming it and saying %q", name, tc.path, err, tc.want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s(%s) still blocked after 5 s", name, tc.path)
				}
			})
		}
	}
}
