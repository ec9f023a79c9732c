package installer

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// clusterConfig maps the inventory and the bundle onto kubeadm's cluster-wide settings.
func (c *Cluster) clusterConfig(cgroupDriver string) (manifests.Cluster, error) {
	inv, m := c.Inv, c.Bundle.Manifest
	apiImage, err := airgap.ImageRef(m, "kube-apiserver")
	if err != nil {
		return manifests.Cluster{}, err
	}
	repo := apiImage[:strings.LastIndex(apiImage, "/")]
	sans := []string{}
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			sans = append(sans, s)
		}
	}
	add(inv.ControlPlane.VIP)
	for _, s := range inv.ControlPlane.CertSANs { // the bank's names for the API
		add(s)
	}
	for _, h := range inv.ControlPlanes() {
		add(h.Name)
		for _, p := range inventory.AllPlanes {
			add(h.AddressOn(p))
		}
	}
	k := inv.Kubernetes
	return manifests.Cluster{
		Name:                 inv.Metadata.Name,
		KubernetesVersion:    m.KubernetesVersion,
		ImageRepository:      repo,
		ControlPlaneEndpoint: inv.APIEndpoint(),
		APIServerPort:        inv.ControlPlane.LoadBalancer.APIServerPort,
		PodCIDR:              k.PodCIDR,
		ServiceCIDR:          k.ServiceCIDR,
		ClusterDomain:        k.ClusterDomain,
		CertSANs:             sans,
		ProxyMode:            k.ProxyMode,
		FeatureGates:         k.FeatureGates,
		APIServerArgs:        k.APIServerArgs,
		// Cluster DNS is berth's own add-on (host network, dnsmasq on :53), not kubeadm's CoreDNS Deployment.
		DisableCoreDNS: true,
		ResolvConf:     c.kubeletResolvConf(),
		Kubelet: manifests.Kubelet{CgroupDriver: cgroupDriver, MaxPods: k.Kubelet.MaxPods,
			SystemReserved: k.Kubelet.SystemReserved, KubeReserved: k.Kubelet.KubeReserved, ExtraArgs: k.Kubelet.ExtraArgs},
	}, nil
}

// nodeConfig maps one host onto kubeadm's node settings.
func (c *Cluster) nodeConfig(h *inventory.Host) manifests.Node {
	n := manifests.Node{Name: h.Name, Address: c.Inv.NodeIP(h), ControlPlane: h.Has(inventory.RoleControlPlane)}
	if len(h.Taints) > 0 {
		n.Taints = h.Taints
	}
	return n
}

// newToken returns a bootstrap token id.secret ([a-z0-9]{6}.[a-z0-9]{16}).
func newToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	rand.Read(b)
	out := make([]byte, 0, 23)
	for i, v := range b {
		if i == 6 {
			out = append(out, '.')
		}
		out = append(out, alphabet[int(v)%len(alphabet)])
	}
	return string(out)
}

// newCertificateKey returns a key that encrypts the control-plane certificates kubeadm uploads for joins.
func newCertificateKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
