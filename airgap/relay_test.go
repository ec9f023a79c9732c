package airgap

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiveScript runs the relay's receiving script with sh and tar on this machine: a file whose name is its
// sha256 is kept in the stage directory; a file whose content does not match its name, a symbolic link under a
// staged file's name, and a name that is no sha256 are refused and removed, and the script fails.
func TestReceiveScript(t *testing.T) {
	good := []byte("a staged file")
	bad := []byte("content that does not match its name")
	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	add := func(hdr *tar.Header, data []byte) {
		hdr.Size = int64(len(data))
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		hdr.Mode = 0o644
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	wrongName := SHA256([]byte("something else"))
	linkName := SHA256([]byte("/etc/passwd"))
	add(&tar.Header{Name: SHA256(good)}, good)
	add(&tar.Header{Name: wrongName}, bad)
	add(&tar.Header{Name: linkName, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil)
	add(&tar.Header{Name: "not-a-digest"}, good)
	tw.Close()

	stage := t.TempDir()
	cmd := exec.Command("sh", "-c", receiveScript(stage))
	cmd.Stdin = &stream
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Errorf("the script accepted a stream with refused files\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "kept "+SHA256(good)) {
		t.Errorf("the good file was not kept: %s / %s", stdout.String(), stderr.String())
	}
	for _, want := range []string{"refused " + wrongName + ": sha256 mismatch", "refused " + linkName + ": not a staged file", "refused not-a-digest"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	entries, _ := os.ReadDir(filepath.Join(stage, "sha256"))
	if len(entries) != 1 || entries[0].Name() != SHA256(good) {
		t.Errorf("stage holds %v, want only the good file", entries)
	}
	if data, _ := os.ReadFile(filepath.Join(stage, "sha256", SHA256(good))); !bytes.Equal(data, good) {
		t.Errorf("kept content %q", data)
	}
	if st, err := os.Stat(filepath.Join(stage, "sha256", SHA256(good))); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kept file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if rest, _ := filepath.Glob(filepath.Join(stage, "relay.*")); len(rest) != 0 {
		t.Errorf("the transfer's directory is left behind: %v", rest)
	}
}
