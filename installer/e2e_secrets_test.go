package installer_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/remote"
)

// secretWatch follows the join secrets of an install: command lines sampled on every host while it runs, and the
// bootstrap tokens and uploaded certificates (encrypted with the certificate key) each time berth made new ones.
// A certificate key is not stored anywhere a test can read, so the watch recognises one by what it does: any
// 64-digit hex string a host kept that decrypts a snapshot of the kubeadm-certs Secret is a leaked key.
type secretWatch struct {
	tokens map[string]bool     // bootstrap tokens seen in the cluster
	certs  []map[string]string // kubeadm-certs Secret data (base64) at each snapshot
}

const (
	psSampler    = "berth-test-ps"
	psSamplerLog = "/run/berth-test-ps.log"
)

// startSecretWatch starts, on every lab host, a transient unit that lists all command lines every 100 ms and keeps
// each distinct one.
func startSecretWatch(t *testing.T, env *e2eEnv) *secretWatch {
	t.Helper()
	script := fmt.Sprintf(`systemctl stop %[1]s >/dev/null 2>&1; rm -f %[2]s
cat > /run/%[1]s.sh <<'EOF'
while :; do ps -eo args; sleep 0.1; done | awk '!seen[$0]++ { print; fflush() }' > %[2]s
EOF
systemd-run --unit %[1]s --collect --quiet /bin/sh /run/%[1]s.sh`, psSampler, psSamplerLog)
	for _, h := range env.lab.Hosts {
		if out, err := env.exec(t, h.Name, script); err != nil {
			t.Fatalf("start the process sampler on %s: %v\n%s", h.Name, err, out)
		}
	}
	return &secretWatch{tokens: map[string]bool{}}
}

// snapshot records the cluster's bootstrap tokens and the kubeadm-certs Secret as they are now, read on the first
// control plane with its admin kubeconfig.
func (w *secretWatch) snapshot(t *testing.T, env *e2eEnv) {
	t.Helper()
	cp1 := env.inv.ControlPlanes()[0].Name
	out, err := env.exec(t, cp1, "kubeadm token list")
	if err != nil {
		t.Fatalf("list bootstrap tokens on %s: %v\n%s", cp1, err, out)
	}
	for _, tok := range bootstrapToken.FindAllString(out, -1) {
		w.tokens[tok] = true
	}
	out, err = env.exec(t, cp1, "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get secret kubeadm-certs -o go-template='{{range $k, $v := .data}}{{$k}}={{$v}}{{\"\\n\"}}{{end}}'")
	if err != nil {
		t.Fatalf("read the kubeadm-certs Secret on %s: %v\n%s", cp1, err, out)
	}
	data := map[string]string{}
	for _, line := range strings.Fields(out) {
		if k, v, ok := strings.Cut(line, "="); ok {
			data[k] = v
		}
	}
	if data["ca.key"] == "" {
		t.Fatalf("the kubeadm-certs Secret on %s has no ca.key:\n%s", cp1, out)
	}
	w.certs = append(w.certs, data)
}

// bootstrapToken matches a kubeadm bootstrap token: an id and a secret.
var bootstrapToken = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)

// hexKey matches what a certificate key looks like: 32 bytes in lowercase hex.
var hexKey = regexp.MustCompile(`[0-9a-f]{64}`)

// decryptsCerts reports whether key (hex) opens the CA key in any snapshot of the kubeadm-certs Secret. kubeadm
// seals each entry with AES-256-GCM under the certificate key, the nonce in front.
func decryptsCerts(key string, certs []map[string]string) bool {
	raw, err := hex.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return false
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return false
	}
	for _, data := range certs {
		sealed, err := base64.StdEncoding.DecodeString(data["ca.key"])
		if err != nil || len(sealed) < gcm.NonceSize() {
			continue
		}
		if _, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil); err == nil {
			return true
		}
	}
	return false
}

// leaks returns where, in text, a token of the watch or a certificate key appears.
func (w *secretWatch) leaks(where, text string) []string {
	var found []string
	for tok := range w.tokens {
		_, secret, _ := strings.Cut(tok, ".")
		if secret != "" && strings.Contains(text, secret) {
			found = append(found, where+": bootstrap token "+tok)
		}
	}
	seen := map[string]bool{}
	for _, k := range hexKey.FindAllString(text, -1) {
		if !seen[k] && decryptsCerts(k, w.certs) {
			found = append(found, where+": certificate key "+k[:8]+"…")
		}
		seen[k] = true
	}
	return found
}

// check stops the samplers and looks for the secrets in every host's command lines, journal and /var/log, and in
// berth's own state directory on this machine. It also checks the watch saw what it had to: the joins' command
// lines and kubeadm's output, so that a sampler or scan that saw nothing cannot pass.
func (w *secretWatch) check(t *testing.T, env *e2eEnv) {
	if len(w.tokens) == 0 || len(w.certs) < 2 {
		t.Fatalf("the watch has %d tokens and %d Secret snapshots; want tokens and a snapshot from each run", len(w.tokens), len(w.certs))
	}
	var leaks []string
	sawJoin, sawUploadCerts, sawKubeadmOutput := false, false, false
	for _, h := range env.lab.Hosts {
		ps, err := env.exec(t, h.Name, fmt.Sprintf("systemctl stop %s; cat %s", psSampler, psSamplerLog))
		if err != nil {
			t.Fatalf("read the process samples of %s: %v", h.Name, err)
		}
		sawJoin = sawJoin || strings.Contains(ps, "kubeadm join --config")
		sawUploadCerts = sawUploadCerts || strings.Contains(ps, "kubeadm init phase upload-certs")
		leaks = append(leaks, w.leaks(h.Name+" command lines", ps)...)

		// The logs are large; only what can hold a secret comes back: token secrets and hex keys. The patterns go
		// on the command's input, into a file only root reads: on the command line, sudo's log would keep them.
		patterns := []string{"[0-9a-f]{64}"}
		for tok := range w.tokens {
			_, secret, _ := strings.Cut(tok, ".")
			patterns = append(patterns, secret)
		}
		sort.Strings(patterns)
		journal := grepHost(t, env, h.Name, "journalctl --no-pager -o cat", patterns)
		leaks = append(leaks, w.leaks(h.Name+" journal", journal)...)
		logs := grepHost(t, env, h.Name, "find /var/log -type f -print0 | xargs -0r cat", patterns)
		leaks = append(leaks, w.leaks(h.Name+" /var/log", logs)...)
		if n, _ := env.exec(t, h.Name, "journalctl --no-pager -o cat | grep -c '^\\[upload-certs\\]' || true"); strings.TrimSpace(n) != "0" {
			sawKubeadmOutput = true
		}
	}
	err := filepath.WalkDir(env.stateDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		leaks = append(leaks, w.leaks("this machine "+path, string(b))...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawJoin || !sawUploadCerts {
		t.Errorf("the process samples hold no kubeadm join (%v) or certificate upload (%v): the sampler did not watch the joins", sawJoin, sawUploadCerts)
	}
	if !sawKubeadmOutput {
		t.Errorf("no host's journal holds kubeadm's [upload-certs] output: the scan did not see kubeadm's logs")
	}
	for _, l := range leaks {
		t.Errorf("join secret exposed: %s", l)
	}
	t.Logf("checked %d tokens and %d certificate uploads against the command lines, journals and /var/log of %d hosts", len(w.tokens), len(w.certs), len(env.lab.Hosts))
}

// grepHost returns the distinct matches of patterns (extended regular expressions) in what source prints on a host.
func grepHost(t *testing.T, env *e2eEnv, host, source string, patterns []string) string {
	t.Helper()
	e, err := env.pool.Get(host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := `f=$(mktemp) && cat > "$f" && { ` + source + ` | grep -aoE -f "$f" | sort -u; rm -f "$f"; }`
	res, err := e.Run(ctx, remote.Cmd{Command: script, Stdin: strings.NewReader(strings.Join(patterns, "\n") + "\n")})
	if err != nil {
		t.Fatalf("search %s on %s: %v", source, host, err)
	}
	return res.Stdout
}

// TestCertificateKeyRecognised shows the watch knows a certificate key when it sees one: sealed the way kubeadm
// seals the uploaded certificates, the key is found in text around it and no other hex string passes.
func TestCertificateKeyRecognised(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	sealed := gcm.Seal(nonce, nonce, []byte("-----BEGIN RSA PRIVATE KEY-----"), nil)
	w := &secretWatch{
		tokens: map[string]bool{"abcdef.0123456789abcdef": true},
		certs:  []map[string]string{{"ca.key": base64.StdEncoding.EncodeToString(sealed)}},
	}
	other := strings.Repeat("ab", 32)
	if got := w.leaks("log", "pulled sha256:"+other+" ok"); len(got) != 0 {
		t.Fatalf("an unrelated digest was taken for a key: %v", got)
	}
	got := w.leaks("log", "[upload-certs] Using certificate key:\n"+hex.EncodeToString(key)+"\njoin --token abcdef.0123456789abcdef")
	if len(got) != 2 {
		t.Fatalf("leaks = %v; want the certificate key and the token", got)
	}
}
