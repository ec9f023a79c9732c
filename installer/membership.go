package installer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// membership is who is part of the cluster: registered nodes and etcd members.
type membership struct {
	Nodes map[string]*corev1.Node // registered nodes by name
	Etcd  []etcdMember
}

type etcdMember struct {
	ID         uint64   `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

// Started reports whether the member has started (an added but never started member has no name).
func (m etcdMember) Started() bool { return m.Name != "" }

// member returns the etcd member of a host (by peer address), if any.
func (ms *membership) member(inv *inventory.Inventory, h *inventory.Host) (etcdMember, bool) {
	addr := inv.NodeIP(h)
	for _, m := range ms.Etcd {
		for _, u := range m.PeerURLs {
			if strings.Contains(u, "//"+addr+":") {
				return m, true
			}
		}
	}
	return etcdMember{}, false
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
	nodes, err := k.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		ms.Nodes[nodes.Items[i].Name] = &nodes.Items[i]
	}
	e, err := c.Host(c.First().Name)
	if err != nil {
		return nil, err
	}
	ms.Etcd, err = etcdMembers(ctx, e)
	return ms, err
}

// etcdctl runs etcdctl on a control plane against its local member.
func etcdctl(args string) string {
	return "ETCDCTL_API=3 " + binDir + "/etcdctl --command-timeout=15s --endpoints=https://127.0.0.1:2379 " +
		"--cacert=" + etcdPKI + "/ca.crt --cert=" + etcdPKI + "/healthcheck-client.crt --key=" + etcdPKI + "/healthcheck-client.key " + args
}

// etcdMemberHealthy is the wait for the etcd member on a control plane to answer as healthy.
func (c *Cluster) etcdMemberHealthy(host string, timeout time.Duration) phase.Wait {
	return phase.Wait{What: "the etcd member on " + host + " healthy", Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			h, err := c.Host(host)
			if err != nil {
				return false, "", err
			}
			if _, err := h.Exec(ctx, etcdctl("endpoint health")); err != nil {
				return false, "etcd on " + host + " not healthy yet", nil
			}
			return true, "etcd on " + host + " healthy", nil
		}}
}

func etcdMembers(ctx context.Context, e remote.Host) ([]etcdMember, error) {
	out, err := e.Exec(ctx, etcdctl("member list -w json"))
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	var res struct {
		Members []etcdMember `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	return res.Members, nil
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
