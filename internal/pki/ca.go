package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/berthsh/berth/internal/localfile"
)

// Lifetimes of what berth issues. A leaf is issued again once less than RenewBefore of it is left.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 2 * 365 * 24 * time.Hour
	RenewBefore  = 90 * 24 * time.Hour
)

// maxPEM bounds what is read from a certificate or key file.
const maxPEM = 64 << 10

// CA is a certificate authority kept on this machine.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
	// CertPath and KeyPath are its files.
	CertPath, KeyPath string
}

// LoadOrCreateCA returns the CA called name kept in dir (name-ca.crt, name-ca.key), making it when neither file
// exists; created says it was made now. A key readable by others than its owner, a missing half, or a
// certificate that is not a CA or not the key's are refused, naming the file and the fix.
func LoadOrCreateCA(dir, name string, now time.Time) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, name+"-ca.crt"), filepath.Join(dir, name+"-ca.key")
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		ca, err := loadCA(certPath, keyPath)
		return ca, false, err
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr == nil || keyErr == nil:
		return nil, false, fmt.Errorf("the %s CA in %s is incomplete: one of %s and %s is missing; restore it from your backup of the "+
			"state directory (every node trusts that CA, so berth does not make another)", name, dir, filepath.Base(certPath), filepath.Base(keyPath))
	default:
		return nil, false, errors.Join(certErr, keyErr)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "berth " + name + " CA", Organization: []string{"berth"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a crash between the two leaves a key without a certificate, which is refused above rather
	// than a certificate nodes might trust whose key is gone.
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, false, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, false, err
	}
	ca, err = loadCA(certPath, keyPath)
	return ca, err == nil, err
}

// loadCA reads and checks a CA's files.
func loadCA(certPath, keyPath string) (*CA, error) {
	keyPEM, st, err := localfile.Read(keyPath, maxPEM)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %04o): it is a CA's private key; chmod 600 %s", keyPath, st.Mode().Perm(), keyPath)
	}
	certPEM, _, err := localfile.Read(certPath, maxPEM)
	if err != nil {
		return nil, err
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate; restore the CA from your backup of the state directory", certPath)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of %s; restore both from the same backup of the state directory", keyPath, certPath)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key, CertPath: certPath, KeyPath: keyPath}, nil
}

// Leaf says what a server certificate names.
type Leaf struct {
	Name  string       // its common name: the service, such as "registry system"
	IPs   []netip.Addr // every address clients reach it on: the VIP and each replica's
	Hosts []string     // DNS names, if any
}

// Issue signs a server certificate for l, valid for LeafLifetime from now, with a new key. It returns both PEM
// encoded; the key is for the service's host only (0600 there).
func (ca *CA) Issue(l Leaf, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(l.IPs) == 0 && len(l.Hosts) == 0 {
		return nil, nil, fmt.Errorf("certificate %q names no address and no host name", l.Name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: l.Name, Organization: []string{"berth"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     l.Hosts,
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	for _, ip := range l.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// Covers reports whether certPEM is a certificate this CA signed that names everything l names (and nothing it
// does not) and has more than RenewBefore left at now: one that can stay on its host. Otherwise it says why not.
func (ca *CA) Covers(certPEM []byte, l Leaf, now time.Time) (bool, string) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return false, err.Error()
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return false, "not signed by " + ca.CertPath
	}
	if left := cert.NotAfter.Sub(now); left < RenewBefore {
		return false, fmt.Sprintf("expires %s", cert.NotAfter.Format(time.DateOnly))
	}
	want := map[string]bool{}
	for _, ip := range l.IPs {
		want[ip.String()] = true
	}
	for _, h := range l.Hosts {
		want[h] = true
	}
	have := map[string]bool{}
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			have[a.Unmap().String()] = true
		}
	}
	for _, h := range cert.DNSNames {
		have[h] = true
	}
	for n := range want {
		if !have[n] {
			return false, "does not name " + n
		}
	}
	for n := range have {
		if !want[n] {
			return false, "names " + n + ", no longer one of its addresses"
		}
	}
	return true, ""
}

// Pool returns a certificate pool holding only this CA: what clients of its services trust.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func parseCert(data []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func parseKey(data []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key cannot sign", k)
	}
	return s, nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// writeFile writes data to path through a temporary file in the same directory, with mode set before any byte.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s appeared while berth was writing it; another berth may be running on this cluster", path)
	}
	return os.Rename(f.Name(), path)
}
