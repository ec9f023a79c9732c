package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/drain"
)

// CordonedBy is the annotation berth puts on a node it cordons: only a node carrying it is uncordoned by berth, so
// a node the administrator had cordoned before stays cordoned, and a run stopped between cordon and uncordon
// finishes the job when it resumes. Its value says which action cordoned it ("upgrade", "node-remove").
const CordonedBy = "berth.sh/cordoned-by"

// Cordon marks a node unschedulable, with CordonedBy set to by, unless it already is (by the administrator or by
// an earlier run). It reports whether berth owns the cordon.
func (c *Client) Cordon(ctx context.Context, node, by string) (bool, error) {
	n, err := c.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", node, err)
	}
	if _, ours := n.Annotations[CordonedBy]; ours {
		return true, nil
	}
	if n.Spec.Unschedulable {
		return false, nil // the administrator's: left as it is
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonedBy: by}},
		"spec":     map[string]any{"unschedulable": true}})
	if _, err := c.cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return false, fmt.Errorf("cordon %s: %w", node, err)
	}
	return true, nil
}

// Uncordon makes a node berth cordoned schedulable again and removes CordonedBy.
func (c *Client) Uncordon(ctx context.Context, node string) error {
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonedBy: nil}},
		"spec":     map[string]any{"unschedulable": false}})
	if _, err := c.cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("uncordon %s: %w", node, err)
	}
	return nil
}

// CordonedByBerth reports whether a node carries berth's cordon.
func (c *Client) CordonedByBerth(ctx context.Context, node string) (bool, error) {
	n, err := c.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	_, ours := n.Annotations[CordonedBy]
	return ours, nil
}

// DrainOptions configure a drain.
type DrainOptions struct {
	Timeout         time.Duration // how long the drain waits for the node's pods to go
	DisableEviction bool          // delete pods instead of evicting them: PodDisruptionBudgets are not asked
	Logger          *slog.Logger  // the drain's progress lines, at debug level; nil discards
}

// Drain evicts every pod of a node but DaemonSets' and mirror pods (PodDisruptionBudgets honoured, unless
// DisableEviction), waiting at most o.Timeout. When pods are still there at the end, the error names them and the
// budgets that hold them, with what to do.
func (c *Client) Drain(ctx context.Context, node string, o DrainOptions) error {
	out := &logWriter{log: o.Logger, node: node}
	h := &drain.Helper{Ctx: ctx, Client: c.cs, GracePeriodSeconds: -1, IgnoreAllDaemonSets: true,
		DeleteEmptyDirData: true, Timeout: o.Timeout, DisableEviction: o.DisableEviction, EvictErrorRetryDelay: 2 * time.Second,
		Out: out, ErrOut: out}
	err := drain.RunNodeDrain(h, node)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("drain %s: %w", node, c.blockers(ctx, h, node, o.Timeout, err))
}

// blockers explains a drain that did not finish: the pods still on the node and the budgets that keep them.
func (c *Client) blockers(ctx context.Context, h *drain.Helper, node string, timeout time.Duration, cause error) error {
	list, errs := h.GetPodsForDeletion(node)
	if len(errs) > 0 {
		return fmt.Errorf("%w (and the pods left could not be listed: %v)", cause, errs)
	}
	pods := list.Pods()
	if len(pods) == 0 {
		return cause
	}
	pdbs, _ := c.cs.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	var lines []string
	for _, p := range pods {
		line := fmt.Sprintf("pod %s/%s", p.Namespace, p.Name)
		if pdb := budgetOf(pdbs, &p); pdb != nil {
			line += " is held by " + describeBudget(pdb)
		}
		lines = append(lines, line)
	}
	return fmt.Errorf("still on the node after %s:\n   %s\n   fix: scale the workload up or relax its budget (kubectl -n NAMESPACE edit pdb NAME), then run the same command again: it resumes here; "+
		"--disable-eviction deletes the pods without asking their budgets", timeout, strings.Join(lines, "\n   "))
}

// describeBudget says who a budget is and why it allows what it allows.
func describeBudget(pdb *policyv1.PodDisruptionBudget) string {
	return fmt.Sprintf("PodDisruptionBudget %s/%s (%d disruptions allowed: %d of %d pods healthy, %d needed)",
		pdb.Namespace, pdb.Name, pdb.Status.DisruptionsAllowed, pdb.Status.CurrentHealthy, pdb.Status.ExpectedPods, pdb.Status.DesiredHealthy)
}

// budgetOf returns the budget that selects a pod, if any.
func budgetOf(pdbs *policyv1.PodDisruptionBudgetList, p *corev1.Pod) *policyv1.PodDisruptionBudget {
	if pdbs == nil {
		return nil
	}
	for i := range pdbs.Items {
		pdb := &pdbs.Items[i]
		if pdb.Namespace != p.Namespace {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			return pdb
		}
	}
	return nil
}

// BlockingBudget is a PodDisruptionBudget that allows no disruption now and covers pods on nodes about to be
// drained: their drain would wait for it.
type BlockingBudget struct {
	Namespace, Name                 string
	Healthy, Expected, NeedsHealthy int32    // its pods healthy now, its pods, and how many must stay healthy
	Pods                            []string // "ns/pod on node", sorted
}

// BlockingBudgets lists the budgets that allow no disruption now and cover pods running on any of the nodes.
func (c *Client) BlockingBudgets(ctx context.Context, nodes []string) ([]BlockingBudget, error) {
	pdbs, err := c.cs.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list PodDisruptionBudgets: %w", err)
	}
	var out []BlockingBudget
	for i := range pdbs.Items {
		pdb := &pdbs.Items[i]
		if pdb.Status.DisruptionsAllowed > 0 || pdb.Status.ExpectedPods == 0 {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		list, err := c.cs.CoreV1().Pods(pdb.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("list the pods of PodDisruptionBudget %s/%s: %w", pdb.Namespace, pdb.Name, err)
		}
		var pods []string
		for _, p := range list.Items {
			if slices.Contains(nodes, p.Spec.NodeName) && p.DeletionTimestamp == nil {
				pods = append(pods, fmt.Sprintf("%s/%s on %s", p.Namespace, p.Name, p.Spec.NodeName))
			}
		}
		if len(pods) == 0 {
			continue
		}
		slices.Sort(pods)
		out = append(out, BlockingBudget{Namespace: pdb.Namespace, Name: pdb.Name, Healthy: pdb.Status.CurrentHealthy,
			Expected: pdb.Status.ExpectedPods, NeedsHealthy: pdb.Status.DesiredHealthy, Pods: pods})
	}
	return out, nil
}

// logWriter turns the drain helper's progress lines into debug logs.
type logWriter struct {
	log  *slog.Logger
	node string
}

func (w *logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" && w.log != nil {
			w.log.Debug("drain: "+line, "node", w.node)
		}
	}
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
