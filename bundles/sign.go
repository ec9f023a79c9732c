package bundles

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berthsh/berth/internal/localfile"
)

// Signature is the content of manifest.yaml.sig.
type Signature struct {
	Algorithm string `json:"algorithm"` // always "ed25519"
	KeyID     string `json:"keyID"`     // KeyID of the public key that verifies it
	Value     string `json:"signature"` // base64 of the 64-byte ed25519 signature over manifest.yaml
}

// maxSignatureSize bounds what verify reads for manifest.yaml.sig.
const maxSignatureSize = 4096

// KeyID names a public key: the first 16 hex digits of the sha256 of its raw 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey makes a new ed25519 signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return pub, priv, nil
}

// WriteKeyPair writes priv to privPath (PKCS#8 PEM, mode 0600) and its public half to pubPath (PKIX PEM, 0644).
// It refuses to overwrite an existing private key.
func WriteKeyPair(privPath, pubPath string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(privPath), 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("write private key %s: %w", privPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write private key %s: %w", privPath, err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

// LoadPrivateKey reads a PKCS#8 PEM ed25519 private key. It refuses a key file that others can read, and anything
// but a regular file of at most 64 KiB.
func LoadPrivateKey(p string) (ed25519.PrivateKey, error) {
	data, st, err := localfile.Read(p, localfile.SecretLimit)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s has mode %04o: others can read it; run chmod 600 %s", p, st.Mode().Perm(), p)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: no PEM \"PRIVATE KEY\" block (make one with berth keygen)", p)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", p, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is a %T, berth signs with ed25519 (make one with berth keygen)", p, k)
	}
	return priv, nil
}

// LoadPublicKey reads a PKIX PEM ed25519 public key, as written by WriteKeyPair: a regular file of at most 64 KiB.
func LoadPublicKey(p string) (ed25519.PublicKey, error) {
	data, _, err := localfile.Read(p, localfile.SecretLimit)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	return ParsePublicKey(p, data)
}

// ParsePublicKey decodes a PKIX PEM ed25519 public key; name is used in errors.
func ParsePublicKey(name string, data []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("public key %s: no PEM \"PUBLIC KEY\" block (pass the .pub file from berth keygen)", name)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s is a %T, berth verifies ed25519", name, k)
	}
	return pub, nil
}

// Sign makes the manifest.yaml.sig content for manifest bytes.
func Sign(manifest []byte, priv ed25519.PrivateKey) ([]byte, error) {
	s := Signature{
		Algorithm: "ed25519",
		KeyID:     KeyID(priv.Public().(ed25519.PublicKey)),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest)),
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	return append(out, '\n'), nil
}

// VerifySignature checks sig (manifest.yaml.sig content) over manifest against the trusted keys and returns the
// key ID that verified it.
func VerifySignature(manifest, sig []byte, trusted []ed25519.PublicKey) (string, error) {
	var s Signature
	if err := json.Unmarshal(sig, &s); err != nil {
		return "", fmt.Errorf("not a berth signature: %w", err)
	}
	if s.Algorithm != "ed25519" {
		return "", fmt.Errorf("algorithm %q, berth verifies ed25519", s.Algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return "", fmt.Errorf("signature value is not a base64 ed25519 signature")
	}
	if len(trusted) == 0 {
		return "", errors.New("no trusted public key given: pass --key with the .pub file of the key that signed the bundle")
	}
	var ids []string
	for _, pub := range trusted {
		id := KeyID(pub)
		ids = append(ids, id)
		if id != s.KeyID {
			continue
		}
		if !ed25519.Verify(pub, manifest, raw) {
			return "", fmt.Errorf("bad signature: it does not match %s (the manifest was changed after signing, or the signature belongs to another bundle)", ManifestPath)
		}
		return id, nil
	}
	return "", fmt.Errorf("signed by key %s, which is not a trusted key (trusted: %v)", s.KeyID, ids)
}
