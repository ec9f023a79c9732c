package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ensureKey creates the lab's ed25519 key pair (private key 0600) unless it exists, and returns the public key in
// authorized_keys format.
func ensureKey(dir, lab string) ([]byte, error) {
	priv := filepath.Join(dir, keyFile)
	if data, err := os.ReadFile(priv + ".pub"); err == nil {
		if _, err := os.Stat(priv); err == nil {
			if err := os.Chmod(priv, 0o600); err != nil {
				return nil, fmt.Errorf("protect lab key: %w", err)
			}
			return data, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read lab key: %w", err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate lab key: %w", err)
	}
	comment := "berth-lab-" + lab
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return nil, fmt.Errorf("encode lab key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode lab key: %w", err)
	}
	line := []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment + "\n")
	if err := writeFileAtomic(priv, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(priv+".pub", line, 0o644); err != nil {
		return nil, err
	}
	return line, nil
}

// hostKeys are the public host keys of one lab host, as read from its /etc/ssh/ssh_host_*_key.pub.
type hostKeys struct {
	Address string
	Keys    []ssh.PublicKey
}

// parseHostKeys reads the concatenated .pub files of a host.
func parseHostKeys(data string) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	rest := []byte(data)
	for len(strings.TrimSpace(string(rest))) > 0 {
		key, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("parse host key: %w", err)
		}
		keys = append(keys, key)
		rest = r
	}
	if len(keys) == 0 {
		return nil, errors.New("the host has no SSH host keys")
	}
	return keys, nil
}

// knownHostsData renders a known_hosts file: one line per key, the management address as the host pattern (port
// 22, so no [addr]:port form), keys sorted for a stable file.
func knownHostsData(hosts []hostKeys) []byte {
	var lines []string
	for _, h := range hosts {
		for _, k := range h.Keys {
			lines = append(lines, h.Address+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))))
		}
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}
