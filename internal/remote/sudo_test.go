package remote

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The input of a command run through sudo with a password holds the password line and the nonce's line before
// the caller's data. Whether sudo took the password line (it asked) or left it (NOPASSWD, cached credentials), the
// wrapped command must see exactly the caller's data: run here with the real shell, with sudo's part played by
// dropping the password line or not, and 1 MiB of random bytes (no newline where the nonce is expected, NULs,
// lines that look like a nonce) as the data.
func TestSudoInputReachesTheCommandUnchanged(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	nonce := newNonce()
	data = append(data, []byte("\n"+"berth-input-0000\n"+nonce[:len(nonce)-1]+"\n")...) // near misses of the nonce
	want := sha256.Sum256(data)
	const pw = `pa ss\word'"$(x)`
	script := wrapCommand(Cmd{Command: "sha256sum | cut -d' ' -f1"}, false, nonce)
	for _, sudoTookPassword := range []bool{true, false} {
		for _, shell := range []string{"sh", "bash", "dash"} {
			path, err := exec.LookPath(shell)
			if err != nil {
				continue
			}
			in := sudoInput(pw, nonce, bytes.NewReader(data))
			if sudoTookPassword {
				line := make([]byte, len(pw)+1)
				io.ReadFull(in, line)
			}
			// wrapCommand without sudo is "setsid -w sh -c SCRIPT": run SCRIPT with the shell under test.
			inner := strings.TrimPrefix(script, "setsid -w sh -c ")
			cmd := exec.Command(path, "-c", "eval "+inner)
			cmd.Stdin = in
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", shell, err)
			}
			if got := strings.TrimSpace(string(out)); got != hex.EncodeToString(want[:]) {
				t.Errorf("%s, sudo took the password line %v: the command read data with sha256 %s, want %x", shell, sudoTookPassword, got, want)
			}
		}
	}
	if strings.Contains(script, pw) || strings.Contains(wrapCommand(Cmd{Command: "true"}, true, nonce), pw) {
		t.Fatal("the password is on the command line")
	}
}
