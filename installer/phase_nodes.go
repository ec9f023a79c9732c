package installer

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
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
			_, err = k.Clientset().CoreV1().Nodes().Patch(ctx, host, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
			return err
		})
	})
	if err != nil {
		return err
	}
	return p.Wait(ctx, "", p.c.ClusterReady(10*time.Minute))
}

func formatLabels(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// ClusterReady is the wait for every inventory node to be Ready and every pod in the system namespaces to run and
// be ready.
func (c *Cluster) ClusterReady(timeout time.Duration) phase.Wait {
	nodes := names(c.Inv.Nodes())
	return phase.Wait{What: "every node Ready and every system pod running", Timeout: timeout, Every: 2 * time.Second,
		Check: func(ctx context.Context) (bool, string, error) {
			k, err := c.Kube(ctx)
			if err != nil {
				return false, "", err
			}
			ok, status, err := k.NodesReady(nodes)(ctx)
			if !ok || err != nil {
				return ok, status, err
			}
			namespaces := []string{"kube-system", "kube-flannel"}
			if localPathOn(c.Inv) {
				namespaces = append(namespaces, manifests.LocalPathNamespace)
			}
			return k.PodsReady(namespaces...)(ctx)
		}}
}
