package manifests

import (
	"strings"
	"testing"
)

// The kubelet's resolv.conf names the kube-dns Service's address and the search domains; the kubelet
// configuration points at it only when asked to.
func TestKubeletResolvConf(t *testing.T) {
	conf, err := KubeletResolvConf("10.96.0.10", []string{"corp.bank.internal", "bank.internal"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(conf), "\nnameserver 10.96.0.10\nsearch corp.bank.internal bank.internal\n") {
		t.Errorf("resolv.conf:\n%s", conf)
	}
	conf, err = KubeletResolvConf("10.96.0.10", nil)
	if err != nil || strings.Contains(string(conf), "\nsearch") || !strings.Contains(string(conf), "\nnameserver 10.96.0.10\n") {
		t.Errorf("without search domains: %v\n%s", err, conf)
	}
	for _, bad := range [][]string{{"Corp Bank"}, {"corp..bank"}} {
		if _, err := KubeletResolvConf("10.96.0.10", bad); err == nil {
			t.Errorf("search %q accepted", bad)
		}
	}
	if _, err := KubeletResolvConf("kube-dns", []string{"corp.bank.internal"}); err == nil {
		t.Error("a name accepted as the name server")
	}

	c := testCluster()
	node := Node{Name: "cp1", Address: "10.20.0.11", ControlPlane: true}
	out, err := KubeadmInit(c, node, "abcdef.0123456789abcdef", "0123")
	if err != nil {
		t.Fatal(err)
	}
	if _, set := kubeadmDocument(t, out, "KubeletConfiguration")["resolvConf"]; set {
		t.Error("resolvConf set without being asked: the kubelet must keep the host's /etc/resolv.conf")
	}
	c.ResolvConf = KubeletResolvConfPath
	if out, err = KubeadmInit(c, node, "abcdef.0123456789abcdef", "0123"); err != nil {
		t.Fatal(err)
	}
	if got := kubeadmDocument(t, out, "KubeletConfiguration")["resolvConf"]; got != "/etc/berth/resolv.conf" {
		t.Errorf("resolvConf = %v", got)
	}
}
