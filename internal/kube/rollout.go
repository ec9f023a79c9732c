package kube

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RolloutComplete is done when the latest spec of a Deployment, DaemonSet or StatefulSet (kind, in any case) is
// rolled out, by the rules of kubectl rollout status: the controller has seen the spec, every replica runs it
// and is available. It fails when a Deployment exceeds its progress deadline, and when a DaemonSet or
// StatefulSet does not update by rolling (nothing would roll it out).
func (c *Client) RolloutComplete(kind, namespace, name string) Condition {
	what := kind + " " + namespace + "/" + name
	return func(ctx context.Context) (bool, string, error) {
		var (
			done   bool
			status string
			err    error
			gerr   error
		)
		switch strings.ToLower(kind) {
		case "deployment":
			var d *appsv1.Deployment
			if d, gerr = c.cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
				done, status, err = deploymentRolledOut(d)
			}
		case "daemonset":
			var ds *appsv1.DaemonSet
			if ds, gerr = c.cs.AppsV1().DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
				done, status, err = daemonSetRolledOut(ds)
			}
		case "statefulset":
			var ss *appsv1.StatefulSet
			if ss, gerr = c.cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
				done, status, err = statefulSetRolledOut(ss)
			}
		default:
			return false, "", fmt.Errorf("roll out %s: only a Deployment, DaemonSet or StatefulSet rolls out", what)
		}
		switch {
		case apierrors.IsNotFound(gerr):
			return false, what + " does not exist yet", nil
		case gerr != nil:
			return false, fmt.Sprintf("get %s: %v", what, gerr), nil
		case err != nil:
			return false, what + ": " + status, fmt.Errorf("roll out %s: %w", what, err)
		}
		return done, what + ": " + status, nil
	}
}

// deploymentRolledOut follows kubectl rollout status for a Deployment.
func deploymentRolledOut(d *appsv1.Deployment) (bool, string, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return false, "waiting for the controller to see the new spec", nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, "progress deadline exceeded", fmt.Errorf("progress deadline exceeded: %s", c.Message)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want), nil
	case st.Replicas > st.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas), nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, st.UpdatedReplicas), nil
	}
	return true, fmt.Sprintf("%d replicas rolled out", st.UpdatedReplicas), nil
}

// daemonSetRolledOut follows kubectl rollout status for a DaemonSet.
func daemonSetRolledOut(ds *appsv1.DaemonSet) (bool, string, error) {
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return false, "updates on delete", fmt.Errorf("its update strategy is %s, not RollingUpdate", ds.Spec.UpdateStrategy.Type)
	}
	if ds.Generation > ds.Status.ObservedGeneration {
		return false, "waiting for the controller to see the new spec", nil
	}
	st := ds.Status
	switch {
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return false, fmt.Sprintf("%d of %d pods updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled), nil
	case st.NumberAvailable < st.DesiredNumberScheduled:
		return false, fmt.Sprintf("%d of %d updated pods available", st.NumberAvailable, st.DesiredNumberScheduled), nil
	}
	return true, fmt.Sprintf("%d pods rolled out", st.DesiredNumberScheduled), nil
}

// statefulSetRolledOut follows kubectl rollout status for a StatefulSet, partitions included.
func statefulSetRolledOut(ss *appsv1.StatefulSet) (bool, string, error) {
	if ss.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return false, "updates on delete", fmt.Errorf("its update strategy is %s, not RollingUpdate", ss.Spec.UpdateStrategy.Type)
	}
	st := ss.Status
	if st.ObservedGeneration == 0 || ss.Generation > st.ObservedGeneration {
		return false, "waiting for the controller to see the new spec", nil
	}
	want := int32(1)
	if ss.Spec.Replicas != nil {
		want = *ss.Spec.Replicas
	}
	if st.ReadyReplicas < want {
		return false, fmt.Sprintf("%d of %d pods ready", st.ReadyReplicas, want), nil
	}
	if ru := ss.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
		if st.UpdatedReplicas < want-*ru.Partition {
			return false, fmt.Sprintf("%d of %d pods above the partition updated", st.UpdatedReplicas, want-*ru.Partition), nil
		}
		return true, fmt.Sprintf("%d pods above partition %d rolled out", want-*ru.Partition, *ru.Partition), nil
	}
	if st.UpdateRevision != st.CurrentRevision {
		return false, fmt.Sprintf("%d of %d pods at revision %s", st.UpdatedReplicas, want, st.UpdateRevision), nil
	}
	return true, fmt.Sprintf("%d pods rolled out at revision %s", want, st.CurrentRevision), nil
}
