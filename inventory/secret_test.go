package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFileIsBoundedAndRegular points file: references at things that are not a small secret file: a
// FIFO (which never delivers a byte), devices (/dev/zero never ends), a directory and a file past the limit. Each
// is refused at once, naming the reference and never the content.
func TestSecretFileIsBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large")
	if err := os.WriteFile(large, []byte(strings.Repeat("TOPSECRET", 64<<10/9+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, ref, want string }{
		{"fifo", "file:fifo", "named pipe"},
		{"null", "file:/dev/null", "character device"},
		{"zero", "file:/dev/zero", "character device"},
		{"directory", "file:" + dir, "directory"},
		{"large", "file:large", "larger than 64 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := SecretRef(tc.ref).Resolve(dir); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.ref) {
					t.Fatalf("Resolve(%s) = %v, want an error naming the reference and saying %q", tc.ref, err, tc.want)
				}
				if strings.Contains(err.Error(), "TOPSECRET") {
					t.Fatalf("error repeats the content: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Resolve(%s) still blocked after 5 s", tc.ref)
			}
		})
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := SecretRef("file:small").Resolve(dir); err != nil || v != "pw" {
		t.Fatalf("Resolve(file:small) = %q, %v", v, err)
	}
}

// TestSecretFilesReadableByOthersWarn: Load warns about a file: secret or an identity file that the group or
// others can read, at the field that names it, and says how to fix it.
func TestSecretFilesReadableByOthersWarn(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := strings.Replace(string(src), "  identityFiles: [id_ed25519]\n", "  identityFiles: [id_ed25519]\n  passwordFrom: file:pw\n", 1)
	write := func(name, data string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("inventory.yaml", inv, 0o644)
	write("pw", "secret", 0o644)
	write("id_ed25519", "key", 0o640)
	loaded, err := Load(filepath.Join(dir, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range loaded.Warnings() {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"inventory.yaml:9:17: warning: ssh.passwordFrom: " + filepath.Join(dir, "pw") + " is readable by group or others (mode 0644)",
		"chmod 600 " + filepath.Join(dir, "pw"),
		"warning: ssh.identityFiles[0]: " + filepath.Join(dir, "id_ed25519") + " is readable by group or others (mode 0640)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	write("pw", "secret", 0o600)
	write("id_ed25519", "key", 0o600)
	if loaded, err = Load(filepath.Join(dir, "inventory.yaml")); err != nil || len(loaded.Warnings()) != 0 {
		t.Errorf("private files still warn: %v %v", err, loaded.Warnings())
	}
}
