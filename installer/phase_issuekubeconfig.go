package installer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/berthsh/berth/internal/phase"
)

// csrWait bounds the wait for the controller manager to sign an approved request.
const csrWait = 2 * time.Minute

// issueKubeconfig is the phase of berth kubeconfig: it reads the admin kubeconfig, or issues a user's through the
// CertificateSigningRequest API. It changes no host: a user's request is an object in the cluster, deleted once
// the certificate is read.
type issueKubeconfig struct {
	phase.Base
	c   *Cluster
	o   KubeconfigOptions
	out *Kubeconfig
}

func (p *issueKubeconfig) Title() string {
	if p.o.User == "" {
		return "Read the admin kubeconfig"
	}
	return "Issue a kubeconfig for " + p.o.User
}
func (p *issueKubeconfig) Name() string { return "kubeconfig" }

func (p *issueKubeconfig) Run(ctx context.Context) error {
	k, err := p.c.Kube(ctx)
	if err != nil {
		return err
	}
	server := "https://" + p.c.Inv.APIEndpoint()
	admin, err := adminKubeconfig(k.Kubeconfig(), p.c.Inv.Metadata.Name, server)
	if err != nil {
		return err
	}
	if p.o.User == "" {
		p.out = admin
		return nil
	}
	caData, err := clusterCA(admin.Content)
	if err != nil {
		return err
	}
	expiry := p.o.Expiry
	if expiry == 0 {
		expiry = DefaultUserExpiry
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	request, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: p.o.User, Organization: p.o.Groups}}, key)
	if err != nil {
		return err
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "berth-" + dnsLabel(p.o.User) + "-" + hex.EncodeToString(suffix)
	seconds := int32(expiry / time.Second)
	csrs := k.Clientset().CertificatesV1().CertificateSigningRequests()
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "berth"}},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: request}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: &seconds,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	if csr, err = csrs.Create(ctx, csr, metav1.CreateOptions{FieldManager: "berth"}); err != nil {
		return fmt.Errorf("create the certificate signing request %s: %w", name, err)
	}
	// The request is only a vehicle: once its certificate is read (or this fails) it goes.
	defer func() {
		if err := csrs.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			p.Warnf("", "delete the certificate signing request %s: %v", name, err)
		}
	}()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "BerthKubeconfig",
		Message: fmt.Sprintf("berth kubeconfig for user %s, groups [%s], %s", p.o.User, strings.Join(p.o.Groups, ","), expiry)})
	if _, err := csrs.UpdateApproval(ctx, name, csr, metav1.UpdateOptions{FieldManager: "berth"}); err != nil {
		return fmt.Errorf("approve the certificate signing request %s: %w", name, err)
	}
	var signed []byte
	if err := p.Wait(ctx, "", phase.Wait{What: "the controller manager to sign " + name, Timeout: csrWait, Every: 500 * time.Millisecond,
		Check: func(ctx context.Context) (bool, string, error) {
			got, err := csrs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == certificatesv1.CertificateFailed || c.Type == certificatesv1.CertificateDenied {
					return false, "", fmt.Errorf("the certificate signing request %s was %s: %s", name, strings.ToLower(string(c.Type)), c.Message)
				}
			}
			if len(got.Status.Certificate) == 0 {
				return false, "approved, not signed yet", nil
			}
			signed = got.Status.Certificate
			return true, "signed", nil
		}}); err != nil {
		return err
	}
	cert, err := parseCertificate(signed)
	if err != nil {
		return fmt.Errorf("the signed certificate: %w", err)
	}
	if got := cert.NotAfter.Sub(cert.NotBefore); got < expiry-5*time.Minute {
		p.Warnf("", "the cluster signed %s's certificate for %s, not the %s asked for: its controller manager's --cluster-signing-duration is shorter",
			p.o.User, got.Round(time.Minute), expiry)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	content, err := userKubeconfig(p.c.Inv.Metadata.Name, server, caData, p.o.User, signed, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return err
	}
	p.out = &Kubeconfig{Cluster: p.c.Inv.Metadata.Name, Server: server, User: cert.Subject.CommonName, Groups: cert.Subject.Organization,
		NotAfter: cert.NotAfter, Content: content}
	return nil
}

// clusterCA returns the cluster CA of an admin kubeconfig.
func clusterCA(admin []byte) ([]byte, error) {
	cfg, err := clientcmd.Load(admin)
	if err != nil {
		return nil, err
	}
	for _, cl := range cfg.Clusters {
		if len(cl.CertificateAuthorityData) > 0 {
			return cl.CertificateAuthorityData, nil
		}
	}
	return nil, fmt.Errorf("admin.conf carries no cluster CA")
}

// userKubeconfig writes a kubeconfig for one user of one cluster.
func userKubeconfig(cluster, server string, ca []byte, user string, cert, key []byte) ([]byte, error) {
	ctxName := user + "@" + cluster
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{cluster: {Server: server, CertificateAuthorityData: ca}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{user: {ClientCertificateData: cert, ClientKeyData: key}},
		Contexts:       map[string]*clientcmdapi.Context{ctxName: {Cluster: cluster, AuthInfo: user}},
		CurrentContext: ctxName,
	}
	return clientcmd.Write(cfg)
}

// dnsLabel reduces a user name to what an object name may hold.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "user"
	}
	return out
}
