package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCA: made once and kept (the second call loads the same CA), the key 0600; a leaf verifies against the CA
// for every address it names; Covers says when a leaf must be issued again; and a key others can read, a missing
// half or a key of another CA is refused with the file named.
func TestCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ca, created, err := LoadOrCreateCA(dir, "registry", now)
	if err != nil || !created {
		t.Fatalf("first call: %v, created %v", err, created)
	}
	st, err := os.Stat(ca.KeyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key %s: mode %v, %v; want 0600", ca.KeyPath, st.Mode(), err)
	}
	again, created, err := LoadOrCreateCA(dir, "registry", now.Add(time.Hour))
	if err != nil || created || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("second call: %v, created %v, same CA %v", err, created, err == nil && again.Cert.Equal(ca.Cert))
	}

	vip, r1, r2 := netip.MustParseAddr("10.0.3.100"), netip.MustParseAddr("10.0.3.31"), netip.MustParseAddr("10.0.3.32")
	leaf := Leaf{Name: "registry system", IPs: []netip.Addr{vip, r1, r2}}
	certPEM, keyPEM, err := ca.Issue(leaf, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, ip := range leaf.IPs {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: ip.String(), CurrentTime: now}); err != nil {
			t.Errorf("the leaf does not verify for %s: %v", ip, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "10.0.3.33", CurrentTime: now}); err == nil {
		t.Error("the leaf verifies for an address it does not name")
	}

	for _, tc := range []struct {
		leaf Leaf
		at   time.Time
		ok   bool
		why  string
	}{
		{leaf, now.Add(24 * time.Hour), true, ""},
		{leaf, now.Add(LeafLifetime - RenewBefore + time.Hour), false, "expires"},
		{Leaf{Name: leaf.Name, IPs: []netip.Addr{vip, r1, r2, netip.MustParseAddr("10.0.3.33")}}, now, false, "does not name 10.0.3.33"},
		{Leaf{Name: leaf.Name, IPs: []netip.Addr{vip, r1}}, now, false, "names 10.0.3.32"},
	} {
		ok, why := ca.Covers(certPEM, tc.leaf, tc.at)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("Covers(%v at %s) = %v %q, want %v %q", tc.leaf.IPs, tc.at.Format(time.DateOnly), ok, why, tc.ok, tc.why)
		}
	}
	other, _, err := LoadOrCreateCA(t.TempDir(), "registry", now)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := other.Covers(certPEM, leaf, now); ok || !strings.Contains(why, "not signed") {
		t.Errorf("another CA covers the leaf: %v %q", ok, why)
	}

	// Refusals, each naming the file.
	if err := os.Chmod(ca.KeyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, "registry", now); err == nil || !strings.Contains(err.Error(), "chmod 600 "+ca.KeyPath) {
		t.Errorf("a key others can read: %v", err)
	}
	os.Chmod(ca.KeyPath, 0o600)
	otherKey, _ := os.ReadFile(other.KeyPath)
	if err := os.WriteFile(ca.KeyPath, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, "registry", now); err == nil || !strings.Contains(err.Error(), "is not the key of "+ca.CertPath) {
		t.Errorf("the key of another CA: %v", err)
	}
	os.Remove(ca.CertPath)
	if _, _, err := LoadOrCreateCA(dir, "registry", now); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("a key without its certificate: %v", err)
	}
	if _, err := os.Stat(ca.CertPath); err == nil {
		t.Error("an incomplete CA was completed with a new certificate")
	}
}
