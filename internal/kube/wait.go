package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition is one check of something awaited. The caller polls it until it is done, an error comes back, or
// the caller's timeout passes. status is a one-line account of progress for people ("2/3 nodes Ready; waiting
// for node w1"). err is only for when waiting longer cannot help; a transient failure, such as the API not
// answering for a moment, is not done, with the failure as status.
type Condition func(ctx context.Context) (done bool, status string, err error)

// maxNamed bounds how many waited-for things a status names.
const maxNamed = 3

// NodesReady is done when every named node is registered and Ready; with no names, when every registered node
// is Ready (and there is at least one).
func (c *Client) NodesReady(names []string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		list, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Sprintf("list nodes: %v", err), nil
		}
		ready := map[string]bool{}
		for i := range list.Items {
			ready[list.Items[i].Name] = NodeReady(&list.Items[i])
		}
		want := names
		if len(want) == 0 {
			for n := range ready {
				want = append(want, n)
			}
			sort.Strings(want)
			if len(want) == 0 {
				return false, "no node is registered yet", nil
			}
		}
		var waiting []string
		for _, n := range want {
			if r, ok := ready[n]; !ok {
				waiting = append(waiting, "node "+n+" (not registered)")
			} else if !r {
				waiting = append(waiting, "node "+n)
			}
		}
		status := fmt.Sprintf("%d/%d nodes Ready", len(want)-len(waiting), len(want))
		if len(waiting) > 0 {
			status += "; waiting for " + listSome(waiting)
		}
		return len(waiting) == 0, status, nil
	}
}

// PodsReady is done when every pod in the namespaces (all namespaces when none is given) is Running and Ready,
// or has Succeeded. A pod that failed and that a controller replaces (ReplicaSet, DaemonSet, StatefulSet, Job)
// is not waited for: its replacement is.
func (c *Client) PodsReady(namespaces ...string) Condition {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	where := "in " + strings.Join(namespaces, ", ")
	if namespaces[0] == metav1.NamespaceAll {
		where = "in all namespaces"
	}
	return func(ctx context.Context) (bool, string, error) {
		var waiting []string
		total := 0
		for _, ns := range namespaces {
			list, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, fmt.Sprintf("list pods %s: %v", where, err), nil
			}
			for i := range list.Items {
				p := &list.Items[i]
				if p.Status.Phase == corev1.PodFailed && replaced(p) {
					continue
				}
				total++
				if !PodReady(p) {
					waiting = append(waiting, fmt.Sprintf("%s/%s (%s)", p.Namespace, p.Name, podWaitReason(p)))
				}
			}
		}
		status := fmt.Sprintf("%d/%d pods ready %s", total-len(waiting), total, where)
		if len(waiting) > 0 {
			sort.Strings(waiting)
			status += "; waiting for " + listSome(waiting)
		}
		return len(waiting) == 0, status, nil
	}
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodReady reports whether a pod has Succeeded, or is Running with its Ready condition True.
func PodReady(p *corev1.Pod) bool {
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

// replaced reports whether a controller that makes a new pod for a failed one owns the pod.
func replaced(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return false
	}
	switch ref.Kind {
	case "ReplicaSet", "DaemonSet", "StatefulSet", "Job":
		return true
	}
	return false
}

// podWaitReason says in a word or two why a pod is not ready: the reason of its first waiting or terminated
// container, "terminating", or its phase.
func podWaitReason(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	for _, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range statuses {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				return cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "" && cs.State.Terminated.ExitCode != 0:
				return cs.State.Terminated.Reason
			}
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return "not ready"
	}
	if p.Status.Phase == "" {
		return "no status"
	}
	return string(p.Status.Phase)
}

// listSome joins the first few items and counts the rest, to keep a status on one line.
func listSome(items []string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxNamed], ", "), len(items)-maxNamed)
}

// firstLine returns the first line of s, for a one-line status.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// ControlPlanePods are the static pods kubeadm runs on a control plane.
var ControlPlanePods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// StaticPodsReady is done when node's kubelet runs each named static pod (NAME-NODE) with every container ready,
// as the kubelet itself reports it (its /pods, through the API server's node proxy). It asks the kubelet rather
// than reading the mirror pods: just after a kubelet restart the mirror pods still show the pods of the kubelet
// before, and a kubelet of another version may compute other pod UIDs and replace every static pod a moment
// later. The kubelet lists a pod under the UID it computes, so a pod it is about to replace is not ready here.
func (c *Client) StaticPodsReady(node string, names ...string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		var list corev1.PodList
		err := c.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "pods").Do(ctx).Into(&list)
		if err != nil {
			return false, fmt.Sprintf("ask the kubelet of %s for its pods: %v", node, err), nil
		}
		return staticPodsReady(&list, node, names)
	}
}

// staticPodsReady is StaticPodsReady's verdict on the kubelet's pod list.
func staticPodsReady(list *corev1.PodList, node string, names []string) (bool, string, error) {
	pods := map[string]*corev1.Pod{}
	for i := range list.Items {
		pods[list.Items[i].Name] = &list.Items[i]
	}
	var waiting []string
	for _, n := range names {
		p, ok := pods[n+"-"+node]
		switch {
		case !ok:
			waiting = append(waiting, n+" (not run by the kubelet)")
		case !containersReady(p):
			waiting = append(waiting, fmt.Sprintf("%s (%s)", n, podWaitReason(p)))
		}
	}
	status := fmt.Sprintf("%d/%d static pods on %s ready as its kubelet sees them", len(names)-len(waiting), len(names), node)
	if len(waiting) > 0 {
		status += "; waiting for " + listSome(waiting)
	}
	return len(waiting) == 0, status, nil
}

// containersReady reports whether a pod is Running and every one of its containers is ready.
func containersReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready || cs.State.Running == nil {
			return false
		}
	}
	return true
}
