package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestEnsureKey(t *testing.T) {
	dir := t.TempDir()
	pub1, err := ensureKey(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, keyFile))
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatalf("private key does not parse: %v", err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("key type %s", signer.PublicKey().Type())
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub1)
	if err != nil || string(pk.Marshal()) != string(signer.PublicKey().Marshal()) {
		t.Fatalf("public key does not match the private key: %v", err)
	}
	// A second Up keeps the key (hosts already trust it) and repairs its mode.
	os.Chmod(filepath.Join(dir, keyFile), 0o644)
	pub2, err := ensureKey(dir, "t")
	if err != nil || string(pub2) != string(pub1) {
		t.Fatalf("second ensureKey changed the key: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, keyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode not repaired: %v", fi.Mode())
	}
}

func TestKnownHostsData(t *testing.T) {
	var hosts []hostKeys
	var keys []ssh.PublicKey
	var pubs string
	for _, addr := range []string{"172.30.10.11", "172.30.10.21"} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		k, _ := ssh.NewPublicKey(pub)
		keys = append(keys, k)
		pubs += string(ssh.MarshalAuthorizedKey(k))
		hosts = append(hosts, hostKeys{Address: addr, Keys: []ssh.PublicKey{k}})
	}
	parsed, err := parseHostKeys(pubs)
	if err != nil || len(parsed) != 2 {
		t.Fatalf("parseHostKeys: %d keys, %v", len(parsed), err)
	}
	if _, err := parseHostKeys("\n"); err == nil {
		t.Error("no keys accepted")
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, knownHostsData(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	check, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	remote := &net.TCPAddr{IP: net.ParseIP("172.30.10.11"), Port: 22}
	if err := check("172.30.10.11:22", remote, keys[0]); err != nil {
		t.Errorf("own key refused: %v", err)
	}
	if err := check("172.30.10.11:22", remote, keys[1]); err == nil {
		t.Error("another host's key accepted")
	}
}
