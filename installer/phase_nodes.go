package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// settleNodes labels the nodes as the inventory says, then waits until every node is Ready and every system pod
// runs.
type settleNodes struct {
	phase.Base
	c      *Cluster
	labels map[string]map[string]string // node -> labels to set
}

func (p *settleNodes) Title() string { return "Label nodes and wait until the cluster is ready" }
func (p *settleNodes) Name() string  { return "nodes" }

// wantLabels returns the labels berth sets on a node.
func wantLabels(h *inventory.Host) map[string]string {
	l := maps.Clone(h.Labels)
	if l == nil {
		l = map[string]string{}
	}
	if h.Has(inventory.RoleWorker) && !h.Has(inventory.RoleControlPlane) {
		l["node-role.kubernetes.io/worker"] = ""
	}
	return l
}

func (p *settleNodes) Prepare(ctx context.Context) error {
	p.labels = map[string]map[string]string{}
	ms, err := p.c.membership(ctx)
	if err != nil {
		return err
	}
	for _, h := range p.c.Inv.Nodes() {
		want := wantLabels(h)
		node := ms.Nodes[h.Name]
		missing := map[string]string{}
		for k, v := range want {
			if node == nil || node.Labels[k] != v || !hasKey(node.Labels, k) {
				missing[k] = v
			}
		}
		if len(missing) > 0 {
			p.labels[h.Name] = missing
		}
	}
	return nil
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func (p *settleNodes) Run(ctx context.Context) error {
	hosts := slices.Sorted(maps.Keys(p.labels))
	err := p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		return p.Wet(host, "label node "+host+": "+formatLabels(p.labels[host]), func() error {
			k, err := p.c.Kube(ctx)
			if err != nil {
				return err
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": p.labels[host]}})
			_, err = k.cs.CoreV1().Nodes().Patch(ctx, host, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
			return err
		})
	})
	if err != nil {
		return err
	}
	return p.Wait(ctx, "", p.c.clusterReady(10*time.Minute))
}

func formatLabels(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// clusterReady is the wait for every inventory node to be Ready and every pod in the system namespaces to run and
// be ready.
func (c *Cluster) clusterReady(timeout time.Duration) phase.Wait {
	nodes := names(c.Inv.Nodes())
	return phase.Wait{What: "every node Ready and every system pod running", Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			k, err := c.Kube(ctx)
			if err != nil {
				return false, "", err
			}
			list, err := k.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, "list nodes: " + err.Error(), nil
			}
			ready := map[string]bool{}
			for _, n := range list.Items {
				ready[n.Name] = nodeReady(&n)
			}
			var waiting []string
			for _, n := range nodes {
				if !ready[n] {
					waiting = append(waiting, "node "+n)
				}
			}
			for _, ns := range []string{"kube-system", "kube-flannel"} {
				pods, err := k.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, "list pods: " + err.Error(), nil
				}
				for _, pod := range pods.Items {
					if !podReady(&pod) {
						waiting = append(waiting, "pod "+ns+"/"+pod.Name)
					}
				}
			}
			msg := fmt.Sprintf("%d/%d nodes Ready", len(nodes)-countPrefix(waiting, "node "), len(nodes))
			if len(waiting) > 0 {
				msg += "; waiting for " + strings.Join(waiting, ", ")
			}
			return len(waiting) == 0, msg, nil
		}}
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
