package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"/opt/x-1.2_3":     "/opt/x-1.2_3",
		"":                 "''",
		"a b":              "'a b'",
		"it's":             `'it'\''s'`,
		"$HOME; rm -rf /":  `'$HOME; rm -rf /'`,
		"key=value,more@x": "key=value,more@x",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := QuoteAll("echo", "a b", "c"); got != "echo 'a b' c" {
		t.Errorf("QuoteAll = %s", got)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := newTail(10)
	tb.Write([]byte("line one\nline two\nend\n"))
	got := tb.String()
	if !strings.HasPrefix(got, "[... ") || !strings.HasSuffix(got, "end\n") {
		t.Fatalf("tail = %q", got)
	}
	small := newTail(100)
	small.Write([]byte("short\n"))
	if small.String() != "short\n" {
		t.Fatalf("tail = %q", small.String())
	}
}

func TestLimitBufferNeverFailsWrites(t *testing.T) {
	lb := &limitBuffer{n: 5}
	n, err := lb.Write([]byte("123"))
	if n != 3 || err != nil {
		t.Fatal(n, err)
	}
	n, err = lb.Write([]byte("4567"))
	if n != 4 || err != nil || !lb.overflow || lb.buf.String() != "12345" {
		t.Fatalf("n=%d err=%v overflow=%v buf=%q", n, err, lb.overflow, lb.buf.String())
	}
}

func TestMarkerFilter(t *testing.T) {
	var out strings.Builder
	m := newMarkerFilter(&out)
	// sudo may warn before the command starts; the marker may arrive split across writes.
	for _, chunk := range []string{"sudo: unable to resolve host x\n@@berth-", "pgid 4242\nreal ", "stderr\n"} {
		m.Write([]byte(chunk))
	}
	m.flush()
	if out.String() != "sudo: unable to resolve host x\nreal stderr\n" {
		t.Fatalf("passed through %q", out.String())
	}
	if !m.started() || <-m.pgid != 4242 {
		t.Fatal("marker not recognised")
	}
	var out2 strings.Builder
	m2 := newMarkerFilter(&out2)
	m2.Write([]byte("sudo: a password is required"))
	m2.flush()
	if m2.started() || out2.String() != "sudo: a password is required" {
		t.Fatalf("no-marker output %q", out2.String())
	}
}

func TestWrapCommand(t *testing.T) {
	c := Cmd{Command: "echo $TOKEN", Env: map[string]string{"TOKEN": "s3cr'et", "A": "1"}}
	got := wrapCommand(c, true, "")
	want := `sudo -n -- setsid -w sh -c 'printf '\''%s %d\n'\'' @@berth-pgid "$$" >&2; export A=1; export TOKEN='\''s3cr'\''\'\'''\''et'\''; echo $TOKEN'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.HasPrefix(wrapCommand(c, false, ""), "sudo") {
		t.Fatal("sudo without sudo")
	}
	// With a password, sudo reads it from the input and the command skips to the nonce's line first.
	got = wrapCommand(c, true, "berth-input-00ff")
	if !strings.HasPrefix(got, "sudo -S -p '' -- setsid -w sh -c ") ||
		!strings.Contains(got, `while IFS= read -r berth_line; do [ "$berth_line" = berth-input-00ff ] && break; done; unset berth_line; export A=1;`) {
		t.Fatalf("with a password: %s", got)
	}
}

func TestRunErrorMessageRedacts(t *testing.T) {
	c := Cmd{Command: "login --token=hunter22", Secrets: []string{"hunter22"}, Env: map[string]string{"PW": "swordfish"}}
	secrets := c.secrets()
	e := &RunError{Host: "cp1", Cmd: redact(c.Command, secrets), ExitCode: 2,
		Output: redact("bad password swordfish\nsecond line\n", secrets)}
	want := "run \"login --token=***\" on cp1: exit status 2\n  | bad password ***\n  | second line"
	if e.Error() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", e.Error(), want)
	}
	short := redact("ab", []string{})
	if short != "ab" {
		t.Fatal(short)
	}
}

func TestSudoErrors(t *testing.T) {
	err := sudoError("cp1", "berth", "sudo: a password is required\n", 1, false)
	if !errors.Is(err, ErrSudoPassword) || !strings.Contains(err.Error(), "berth ALL=(ALL) NOPASSWD: ALL") ||
		!strings.Contains(err.Error(), "ssh.sudoPasswordFrom") {
		t.Fatalf("err = %v", err)
	}
	if err := sudoError("cp1", "berth", "berth is not in the sudoers file.", 1, false); err == nil || !strings.Contains(err.Error(), "may not use sudo") {
		t.Fatalf("err = %v", err)
	}
	if sudoError("cp1", "berth", "some other failure", 1, false) != nil {
		t.Fatal("unrelated failure blamed on sudo")
	}
	err = sudoError("cp1", "berth", "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n", 1, true)
	if !errors.Is(err, ErrSudoRefused) || !strings.Contains(err.Error(), "ssh.sudoPasswordFrom") {
		t.Fatalf("refused password: %v", err)
	}
}

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestHostKeyPolicy(t *testing.T) {
	good, bad := newHostKey(t), newHostKey(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{"[10.0.0.5]:2222"}, good)+"\n"), 0o644)
	remoteAddr := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 2222}

	p, err := newHostKeyPolicy("cp1", kh, nil, "hosts[cp1].ssh.hostKeys")
	if err != nil {
		t.Fatal(err)
	}
	cb, algos, err := p.callback("10.0.0.5:2222")
	if err != nil {
		t.Fatal(err)
	}
	if len(algos) != 1 || algos[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("algorithms = %v, want the recorded key's type only", algos)
	}
	if err := cb("10.0.0.5:2222", remoteAddr, good); err != nil {
		t.Fatalf("recorded key refused: %v", err)
	}
	err = cb("10.0.0.5:2222", remoteAddr, bad)
	var he *HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"host key of cp1 (10.0.0.5:2222) has changed", ssh.FingerprintSHA256(bad),
		ssh.FingerprintSHA256(good) + " (" + kh + ":1)", "ssh-keygen -R '[10.0.0.5]:2222' -f " + kh,
		"ssh-keyscan -p 2222 10.0.0.5", "hosts[cp1].ssh.hostKeys"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	// A host not in known_hosts at all.
	err = cb("10.0.0.6:22", &net.TCPAddr{IP: net.ParseIP("10.0.0.6"), Port: 22}, bad)
	if !errors.As(err, &he) || len(he.Known) != 0 || !strings.Contains(err.Error(), "is not known") {
		t.Fatalf("unknown host: %v", err)
	}

	// Pins replace known_hosts.
	pp, _ := newHostKeyPolicy("cp1", "", []string{ssh.FingerprintSHA256(good)}, "hosts[cp1].ssh.hostKeys")
	pcb, _, _ := pp.callback("10.0.0.5:22")
	if err := pcb("10.0.0.5:22", remoteAddr, good); err != nil {
		t.Fatalf("pinned key refused: %v", err)
	}
	err = pcb("10.0.0.5:22", remoteAddr, bad)
	if !errors.As(err, &he) || !he.Pinned || !strings.Contains(err.Error(), "replace the pinned fingerprint in hosts[cp1].ssh.hostKeys with "+ssh.FingerprintSHA256(bad)) {
		t.Fatalf("pinned mismatch: %v", err)
	}
}

func TestHostKeyPolicyNeedsSomething(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	if _, err := newHostKeyPolicy("cp1", "", nil, "hosts[cp1].ssh.hostKeys"); err == nil ||
		!strings.Contains(err.Error(), "no known_hosts file and no pinned fingerprint") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseHashLine(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct {
		line, path string
		ok         bool
	}{
		{sum + " */var/lib/berth/a b", "/var/lib/berth/a b", true}, // openssl dgst -r
		{sum + "  /etc/hosts", "/etc/hosts", true},                 // sha256sum
		{sum + " *", "", false},
		{"abc /etc/hosts", "", false},
		{"", "", false},
	} {
		gotSum, path, ok := ParseHashLine(c.line)
		if ok != c.ok || path != c.path || (ok && gotSum != sum) {
			t.Errorf("ParseHashLine(%q) = %q, %q, %v; want %q, %v", c.line, gotSum, path, ok, c.path, c.ok)
		}
	}
}
