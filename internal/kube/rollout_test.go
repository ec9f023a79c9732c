package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func deployment(gen, observed int64, replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	st.ObservedGeneration = observed
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns", Generation: gen},
		Spec: appsv1.DeploymentSpec{Replicas: ptr(replicas)}, Status: st}
}

func TestDeploymentRolledOut(t *testing.T) {
	for _, tc := range []struct {
		d      *appsv1.Deployment
		done   bool
		status string
		err    bool
	}{
		{deployment(2, 1, 2, appsv1.DeploymentStatus{}), false, "waiting for the controller to see the new spec", false},
		{deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}), false, "1 of 3 replicas updated", false},
		{deployment(2, 2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2}), false, "1 old replicas pending termination", false},
		{deployment(2, 2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}), false, "1 of 2 updated replicas available", false},
		{deployment(2, 2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}), true, "2 replicas rolled out", false},
		{deployment(2, 2, 2, appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "x" has timed out progressing.`}}}), false, "progress deadline exceeded", true},
	} {
		done, status, err := deploymentRolledOut(tc.d)
		if done != tc.done || status != tc.status || (err != nil) != tc.err {
			t.Errorf("got %v %q %v; want %v %q error=%v", done, status, err, tc.done, tc.status, tc.err)
		}
	}
}

func TestDaemonSetRolledOut(t *testing.T) {
	ds := func(desired, updated, available int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 3},
			Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: desired,
				UpdatedNumberScheduled: updated, NumberAvailable: available}}
	}
	for _, tc := range []struct {
		ds     *appsv1.DaemonSet
		done   bool
		status string
	}{
		{ds(5, 3, 5), false, "3 of 5 pods updated"},
		{ds(5, 5, 4), false, "4 of 5 updated pods available"},
		{ds(5, 5, 5), true, "5 pods rolled out"},
	} {
		done, status, err := daemonSetRolledOut(tc.ds)
		if err != nil || done != tc.done || status != tc.status {
			t.Errorf("got %v %q %v; want %v %q", done, status, err, tc.done, tc.status)
		}
	}
	stale := ds(5, 5, 5)
	stale.Generation = 4
	if done, _, _ := daemonSetRolledOut(stale); done {
		t.Error("done before the controller saw the new spec")
	}
	onDelete := ds(5, 5, 5)
	onDelete.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
	if _, _, err := daemonSetRolledOut(onDelete); err == nil {
		t.Error("an OnDelete DaemonSet is waited for; nothing will roll it out")
	}
}

func TestStatefulSetRolledOut(t *testing.T) {
	ss := func(ready, updated int32, current, update string, partition *int32) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: 2},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: ready, UpdatedReplicas: updated,
				CurrentRevision: current, UpdateRevision: update}}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		return s
	}
	for _, tc := range []struct {
		ss     *appsv1.StatefulSet
		done   bool
		status string
	}{
		{ss(2, 3, "r2", "r2", nil), false, "2 of 3 pods ready"},
		{ss(3, 1, "r1", "r2", nil), false, "1 of 3 pods at revision r2"},
		{ss(3, 3, "r2", "r2", nil), true, "3 pods rolled out at revision r2"},
		{ss(3, 0, "r1", "r2", ptr(int32(2))), false, "0 of 1 pods above the partition updated"},
		{ss(3, 1, "r1", "r2", ptr(int32(2))), true, "1 pods above partition 2 rolled out"},
	} {
		done, status, err := statefulSetRolledOut(tc.ss)
		if err != nil || done != tc.done || status != tc.status {
			t.Errorf("got %v %q %v; want %v %q", done, status, err, tc.done, tc.status)
		}
	}
	unobserved := ss(3, 3, "r2", "r2", nil)
	unobserved.Status.ObservedGeneration = 0
	if done, _, _ := statefulSetRolledOut(unobserved); done {
		t.Error("done before the controller saw the StatefulSet")
	}
}

func TestRolloutComplete(t *testing.T) {
	d := deployment(1, 1, 1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1})
	c, _ := fakeClient(d)
	done, status := check(t, c.RolloutComplete("deployment", "kube-system", "coredns"))
	if !done || status != "deployment kube-system/coredns: 1 replicas rolled out" {
		t.Errorf("got %v %q", done, status)
	}
	done, status = check(t, c.RolloutComplete("DaemonSet", "kube-system", "kube-proxy"))
	if done || status != "DaemonSet kube-system/kube-proxy does not exist yet" {
		t.Errorf("missing DaemonSet: %v %q", done, status)
	}
	if _, _, err := c.RolloutComplete("Pod", "kube-system", "x")(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "only a Deployment, DaemonSet or StatefulSet") {
		t.Errorf("a Pod: %v", err)
	}
	stuck := deployment(1, 1, 1, appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}}})
	c, _ = fakeClient(stuck)
	if _, _, err := c.RolloutComplete("Deployment", "kube-system", "coredns")(t.Context()); err == nil {
		t.Error("a Deployment past its progress deadline is waited for")
	}
}
