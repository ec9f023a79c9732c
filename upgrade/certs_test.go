package upgrade

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// certB64 returns base64 of a PEM certificate for cn valid from nb to na.
func certB64(t *testing.T, cn string, ca bool, nb, na time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		IsCA: ca, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestParseCertificates reads what certsScript prints on a control plane whose apiserver certificate was renewed
// after the API server started: expiry, residual time, authority, and the staleness that tells a renewed
// certificate the component has not loaded yet.
func TestParseCertificates(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	installed := now.Add(-300 * 24 * time.Hour)
	out := fmt.Sprintf(`now %d
cert ca /etc/kubernetes/pki/ca.crt %d %s
cert apiserver /etc/kubernetes/pki/apiserver.crt %d %s
cert etcd-server /etc/kubernetes/pki/etcd/server.crt %d %s
cert admin.conf /etc/kubernetes/admin.conf %d %s
cert unknown /etc/elsewhere.crt 1 AAAA
proc kube-apiserver 1 %d
proc kube-controller 1 %d
proc kube-scheduler 1 %d
proc etcd 2 %d
`, now.Unix(),
		installed.Unix(), certB64(t, "kubernetes", true, installed, installed.Add(10*365*24*time.Hour)),
		now.Add(-time.Minute).Unix(), certB64(t, "kube-apiserver", false, now.Add(-time.Minute), now.Add(365*24*time.Hour)),
		installed.Unix(), certB64(t, "cp1", false, installed, now.Add(20*time.Hour)),
		installed.Unix(), certB64(t, "kubernetes-admin", false, installed, now.Add(-time.Hour)),
		now.Add(-time.Hour).Unix(), installed.Unix(), installed.Unix(), installed.Unix())
	h, err := parseCerts(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Certificate{}
	for _, c := range h.certs {
		got[c.Name] = c
	}
	if len(got) != 4 {
		t.Fatalf("certificates = %v", got)
	}
	for name, want := range map[string]struct {
		residual, authority, usedBy string
		ca, stale                   bool
	}{
		"ca":          {"3350d", "", "", true, false},
		"apiserver":   {"365d", "ca", "kube-apiserver", false, true}, // renewed a minute ago, its API server started an hour ago
		"etcd-server": {"20h", "etcd-ca", "etcd", false, false},
		"admin.conf":  {"expired", "ca", "", false, false},
	} {
		c := got[name]
		if c.Residual != want.residual || c.Authority != want.authority || c.UsedBy != want.usedBy || c.CA != want.ca || c.Stale != want.stale {
			t.Errorf("%s = %+v, want %+v", name, c, want)
		}
	}
	if !got["apiserver"].NotAfter.Equal(now.Add(365 * 24 * time.Hour)) {
		t.Errorf("apiserver expires %s", got["apiserver"].NotAfter)
	}
	ok, status := h.loaded()
	if ok || !strings.Contains(status, "kube-apiserver started 11:00:00, before its certificates (11:59:00)") || !strings.Contains(status, "etcd still stopping") {
		t.Errorf("loaded = %v, %q", ok, status)
	}
	h.started["kube-apiserver"], h.count["etcd"] = now, 1
	if ok, status := h.loaded(); !ok {
		t.Errorf("every component restarted after its certificates: %q", status)
	}
	if _, err := parseCerts("cert apiserver /x 1 AAAA\n"); err == nil {
		t.Error("an answer without the host's clock accepted")
	}
	if _, err := parseCerts(fmt.Sprintf("now %d\ncert apiserver /x 1 bm90IGEgY2VydA==\n", now.Unix())); err == nil || !strings.Contains(err.Error(), "not a PEM certificate") {
		t.Errorf("garbage certificate: %v", err)
	}
}

func TestResidual(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "expired", 0: "expired", 59 * time.Minute: "59m", 23*time.Hour + 59*time.Minute: "23h", 24 * time.Hour: "1d",
		365*24*time.Hour - time.Second: "364d",
	} {
		if got := Residual(d); got != want {
			t.Errorf("Residual(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestCertsScriptReadsNoKeys: the script that reads certificates on a control plane never reads a private key:
// from kubeconfigs it takes client-certificate-data only, and it names no .key file.
func TestCertsScriptReadsNoKeys(t *testing.T) {
	s := certsScript()
	if strings.Contains(s, ".key") || strings.Contains(s, "client-key-data") {
		t.Errorf("the script reads a key:\n%s", s)
	}
	for _, c := range kubeadmCerts {
		if !strings.Contains(s, c.file) {
			t.Errorf("the script does not read %s", c.file)
		}
	}
}
