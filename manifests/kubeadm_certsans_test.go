package manifests

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// kubeadmDocument returns the document of kind from a multi-document kubeadm configuration.
func kubeadmDocument(t *testing.T, out []byte, kind string) map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			t.Fatalf("no %s in:\n%s", kind, out)
		}
		if err != nil {
			t.Fatal(err)
		}
		if doc["kind"] == kind {
			return doc
		}
	}
}

// The inventory's certSANs reach kubeadm's ClusterConfiguration (apiServer.certSANs) next to the VIP and the
// control planes' addresses; a name that is neither a DNS name nor an IP is refused before kubeadm sees it.
func TestKubeadmCertSANs(t *testing.T) {
	c := testCluster()
	c.CertSANs = append(c.CertSANs, "api.payments.example.bank", "*.api.example.bank", "10.20.0.200")
	out, err := KubeadmInit(c, Node{Name: "cp1", Address: "10.20.0.11", ControlPlane: true}, "abcdef.0123456789abcdef", "0123")
	if err != nil {
		t.Fatal(err)
	}
	api := kubeadmDocument(t, out, "ClusterConfiguration")["apiServer"].(map[string]any)
	var sans []string
	for _, s := range api["certSANs"].([]any) {
		sans = append(sans, s.(string))
	}
	want := []string{"10.20.0.100", "10.20.0.11", "10.20.0.12", "api.payments.example.bank", "*.api.example.bank", "10.20.0.200"}
	if !slices.Equal(sans, want) {
		t.Errorf("apiServer.certSANs = %v, want %v", sans, want)
	}
	c.CertSANs = append(c.CertSANs, "API Payments")
	if _, err := KubeadmInit(c, Node{Name: "cp1", Address: "10.20.0.11", ControlPlane: true}, "t", "k"); err == nil ||
		!strings.Contains(err.Error(), `"API Payments" is neither an IP address nor a DNS name`) {
		t.Errorf("a bad name was rendered: %v", err)
	}
}
