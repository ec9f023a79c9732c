package installer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// testCert returns a PEM certificate for cn in groups, valid for d, and its PEM key.
func testCert(t *testing.T, cn string, groups []string, d time.Duration) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: now, NotAfter: now.Add(d), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestKubeconfigOptionsRefusals: what berth kubeconfig refuses before it reads anything, each with the fix.
func TestKubeconfigOptionsRefusals(t *testing.T) {
	inv := exampleInventory(t)
	for _, tc := range []struct {
		o    KubeconfigOptions
		want string
	}{
		{KubeconfigOptions{User: "alice"}, "--out FILE (or --out - for stdout): it holds the user's private key"},
		{KubeconfigOptions{Groups: []string{"sre"}}, "--groups and --expiry are for a user's kubeconfig"},
		{KubeconfigOptions{User: "alice", Out: "a", Groups: []string{"system:masters"}}, "cannot be revoked"},
		{KubeconfigOptions{User: "alice", Out: "a", Groups: []string{"system:nodes"}}, "belong to Kubernetes' own components"},
		{KubeconfigOptions{User: "system:admin", Out: "a"}, "names starting with system:"},
		{KubeconfigOptions{User: "alice,bob", Out: "a"}, "no commas"},
		{KubeconfigOptions{User: "alice", Out: "a", Groups: []string{""}}, "not empty"},
		{KubeconfigOptions{User: "alice", Out: "a", Expiry: 5 * time.Minute}, "at least 10m0s"},
	} {
		tc.o.Inventory = inv
		err := tc.o.check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	for _, o := range []KubeconfigOptions{{}, {User: "alice", Out: "-", Groups: []string{"sre", "payments-dev"}, Expiry: time.Hour}} {
		o.Inventory = inv
		if err := o.check(); err != nil {
			t.Errorf("%+v refused: %v", o, err)
		}
	}
}

// TestAdminKubeconfigPointsAtTheVIP: the admin kubeconfig is kubeadm's own bytes when it names the VIP, and is
// pointed at the VIP when it does not; its user and expiry come from its certificate.
func TestAdminKubeconfigPointsAtTheVIP(t *testing.T) {
	cert, key := testCert(t, "kubernetes-admin", []string{"kubeadm:cluster-admins"}, 365*24*time.Hour)
	raw, err := userKubeconfig("kubernetes", "https://10.20.0.100:6443", []byte("ca"), "kubernetes-admin", cert, key)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := adminKubeconfig(raw, "payments-uat", "https://10.20.0.100:6443")
	if err != nil {
		t.Fatal(err)
	}
	if string(kc.Content) != string(raw) || kc.User != "kubernetes-admin" || kc.Groups[0] != "kubeadm:cluster-admins" || !kc.Admin {
		t.Errorf("admin kubeconfig = %+v", kc)
	}
	if c, _ := parseCertificate(cert); !kc.NotAfter.Equal(c.NotAfter) {
		t.Errorf("notAfter %s, want %s", kc.NotAfter, c.NotAfter)
	}
	kc, err = adminKubeconfig(raw, "payments-uat", "https://10.20.0.200:6443")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(kc.Content)
	if err != nil || cfg.Clusters["kubernetes"].Server != "https://10.20.0.200:6443" {
		t.Errorf("server not moved to the VIP: %v %+v", err, cfg)
	}
}

// TestUserKubeconfig: the kubeconfig berth writes for a user loads with client-go and carries the CA, the server,
// the certificate and the key.
func TestUserKubeconfig(t *testing.T) {
	cert, key := testCert(t, "alice", []string{"sre"}, time.Hour)
	raw, err := userKubeconfig("payments-uat", "https://10.20.0.100:6443", []byte("ca-pem"), "alice", cert, key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://10.20.0.100:6443" || string(rc.CAData) != "ca-pem" || string(rc.CertData) != string(cert) || string(rc.KeyData) != string(key) {
		t.Errorf("rest config = %+v", rc)
	}
	if ca, err := clusterCA(raw); err != nil || string(ca) != "ca-pem" {
		t.Errorf("cluster CA = %q, %v", ca, err)
	}
	for in, want := range map[string]string{"alice": "alice", "Alice.Smith@bank": "alice-smith-bank", "---": "user", strings.Repeat("a", 80): strings.Repeat("a", 40)} {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWritePrivateFile: a kubeconfig is written 0600 even over a file that was world-readable, and the same content
// again is not rewritten.
func TestWritePrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := writePrivateFile(path, []byte("secret"))
	if err != nil || !changed {
		t.Fatalf("write: %v, changed %v", err, changed)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if changed, err := writePrivateFile(path, []byte("secret")); err != nil || changed {
		t.Errorf("the same content again: changed %v, %v", changed, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
