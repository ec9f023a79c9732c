package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/drain"

	"github.com/berthsh/berth/internal/kube"
)

// CordonedBy is the annotation berth puts on a node it cordons: only a node carrying it is uncordoned by berth, so
// a node the administrator had cordoned before the upgrade stays cordoned, and a run stopped between cordon and
// uncordon finishes the job when it resumes.
const CordonedBy = "berth.sh/cordoned-by"

// cordon marks a node unschedulable, with CordonedBy, unless it already is (by the administrator or by an earlier
// run). It reports whether berth owns the cordon.
func cordon(ctx context.Context, k *kube.Client, node string) (bool, error) {
	n, err := k.Clientset().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
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
		"metadata": map[string]any{"annotations": map[string]any{CordonedBy: "upgrade"}},
		"spec":     map[string]any{"unschedulable": true}})
	if _, err := k.Clientset().CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
		return false, fmt.Errorf("cordon %s: %w", node, err)
	}
	return true, nil
}

// uncordon makes a node berth cordoned schedulable again and removes CordonedBy.
func uncordon(ctx context.Context, k *kube.Client, node string) error {
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonedBy: nil}},
		"spec":     map[string]any{"unschedulable": false}})
	if _, err := k.Clientset().CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
		return fmt.Errorf("uncordon %s: %w", node, err)
	}
	return nil
}

// cordonedByBerth reports whether a node carries berth's cordon.
func cordonedByBerth(ctx context.Context, k *kube.Client, node string) (bool, error) {
	n, err := k.Clientset().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	_, ours := n.Annotations[CordonedBy]
	return ours, nil
}

// drainNode evicts every pod of a node but DaemonSets' and mirror pods (PodDisruptionBudgets honoured, unless
// disableEviction), waiting at most timeout. When pods are still there at the end, the error names them and the
// budgets that hold them, with what to do.
func drainNode(ctx context.Context, k *kube.Client, node string, timeout time.Duration, disableEviction bool, log *slog.Logger) error {
	out := &logWriter{log: log, node: node}
	h := &drain.Helper{Ctx: ctx, Client: k.Clientset(), GracePeriodSeconds: -1, IgnoreAllDaemonSets: true,
		DeleteEmptyDirData: true, Timeout: timeout, DisableEviction: disableEviction, EvictErrorRetryDelay: 2 * time.Second,
		Out: out, ErrOut: out}
	err := drain.RunNodeDrain(h, node)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("drain %s: %w", node, blockers(ctx, k, h, node, timeout, err))
}

// blockers explains a drain that did not finish: the pods still on the node and the budgets that keep them.
func blockers(ctx context.Context, k *kube.Client, h *drain.Helper, node string, timeout time.Duration, cause error) error {
	list, errs := h.GetPodsForDeletion(node)
	if len(errs) > 0 {
		return fmt.Errorf("%w (and the pods left could not be listed: %v)", cause, errs)
	}
	pods := list.Pods()
	if len(pods) == 0 {
		return cause
	}
	pdbs, _ := k.Clientset().PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	var lines []string
	for _, p := range pods {
		line := fmt.Sprintf("pod %s/%s", p.Namespace, p.Name)
		if pdb := budgetOf(pdbs, &p); pdb != nil {
			line += fmt.Sprintf(" is held by PodDisruptionBudget %s/%s (%d disruptions allowed: %d of %d pods healthy, %d needed)",
				pdb.Namespace, pdb.Name, pdb.Status.DisruptionsAllowed, pdb.Status.CurrentHealthy, pdb.Status.ExpectedPods, pdb.Status.DesiredHealthy)
		}
		lines = append(lines, line)
	}
	return fmt.Errorf("still on the node after %s:\n   %s\n   fix: scale the workload up or relax its budget (kubectl -n NAMESPACE edit pdb NAME), then run the same command again: it resumes here; "+
		"--disable-eviction deletes the pods without asking their budgets", timeout, strings.Join(lines, "\n   "))
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
