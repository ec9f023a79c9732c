package installer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// membership is who is part of the cluster: registered nodes and etcd members.
type membership struct {
	Nodes map[string]*corev1.Node // registered nodes by name
	Etcd  []kube.Member
}

// member returns the etcd member of a host (by peer address), if any.
func (ms *membership) member(inv *inventory.Inventory, h *inventory.Host) (kube.Member, bool) {
	return kube.MemberAt(ms.Etcd, inv.NodeIP(h))
}

// membership reads registered nodes and etcd members. Before the cluster exists it is empty. It first lets any
// kubeadm still running from an interrupted run finish, and re-reads the hosts, so that a join that completed on
// its own counts as done and is never undone.
func (c *Cluster) membership(ctx context.Context) (*membership, error) {
	ms := &membership{Nodes: map[string]*corev1.Node{}}
	err := phase.ParallelEach(ctx, 10, names(c.Inv.Nodes()), func(h string) string { return h }, func(ctx context.Context, host string) error {
		e, err := c.Host(host)
		if err != nil {
			return err
		}
		out, err := e.Exec(ctx, waitKubeadmIdle+stateScript)
		if err != nil {
			return err
		}
		if err := kubeadmIdle(host, out); err != nil {
			return err
		}
		c.setState(host, parseState(out))
		return nil
	})
	if err != nil {
		return nil, err
	}
	k, err := c.Kube(ctx)
	if errors.Is(err, errNoCluster) {
		return ms, nil
	}
	if err != nil {
		return nil, err
	}
	nodes, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		ms.Nodes[nodes.Items[i].Name] = &nodes.Items[i]
	}
	ms.Etcd, err = c.etcdMembers(ctx)
	return ms, err
}

// joined reports whether a host has fully joined: kubelet configured, node registered and, for a control plane,
// its etcd member started.
func (c *Cluster) joined(ms *membership, h *inventory.Host) bool {
	if !c.State(h.Name).Has("kubelet-conf") || ms.Nodes[h.Name] == nil {
		return false
	}
	if h.Has(inventory.RoleControlPlane) {
		m, ok := ms.member(c.Inv, h)
		return ok && m.Started() && c.State(h.Name).Has("etcd")
	}
	return true
}

// leftovers reports whether a host that has not fully joined carries pieces of an earlier attempt.
func (c *Cluster) leftovers(ms *membership, h *inventory.Host) bool {
	st := c.State(h.Name)
	_, member := ms.member(c.Inv, h)
	return st.Has("kubelet-conf") || st.Has("apiserver") || st.Has("etcd") || st.Has("etcd-data") || st.Has("pki") ||
		ms.Nodes[h.Name] != nil || member
}

// caCertHash returns kubeadm's discovery hash of a CA certificate: sha256 of its public key info.
func caCertHash(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return "", errors.New("the cluster CA certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse the cluster CA certificate: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
