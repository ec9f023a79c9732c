package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: ready}}}}
}

func pod(ns, name string, phase corev1.PodPhase, ready bool, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: corev1.PodStatus{Phase: phase}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func waiting(reason string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}
	}
}

func ownedBy(kind string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: "owner", Controller: &yes}}
	}
}

func fakeClient(objs ...runtime.Object) (*Client, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &Client{cs: cs, log: discard()}, cs
}

// check runs a condition once and fails the test on an error.
func check(t *testing.T, cond Condition) (bool, string) {
	t.Helper()
	done, status, err := cond(context.Background())
	if err != nil {
		t.Fatalf("condition failed: %v (status %q)", err, status)
	}
	return done, status
}

func TestNodesReady(t *testing.T) {
	c, cs := fakeClient(node("cp1", corev1.ConditionTrue), node("cp2", corev1.ConditionTrue),
		node("w1", corev1.ConditionUnknown))

	for _, tc := range []struct {
		names  []string
		done   bool
		status string
	}{
		{[]string{"cp1", "cp2", "w1"}, false, "2/3 nodes Ready; waiting for node w1"},
		{[]string{"cp1", "cp2", "w2"}, false, "2/3 nodes Ready; waiting for node w2 (not registered)"},
		{[]string{"cp1", "cp2"}, true, "2/2 nodes Ready"},
		{nil, false, "2/3 nodes Ready; waiting for node w1"},
	} {
		done, status := check(t, c.NodesReady(tc.names))
		if done != tc.done || status != tc.status {
			t.Errorf("%v: got %v %q, want %v %q", tc.names, done, status, tc.done, tc.status)
		}
	}

	cs.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	done, status := check(t, c.NodesReady(nil))
	if done || !strings.Contains(status, "connection refused") {
		t.Errorf("with the API down: %v %q, want not done with the error as status", done, status)
	}

	empty, _ := fakeClient()
	if done, status := check(t, empty.NodesReady(nil)); done || status != "no node is registered yet" {
		t.Errorf("no nodes: %v %q", done, status)
	}
}

func TestPodsReady(t *testing.T) {
	now := metav1.Now()
	c, _ := fakeClient(
		pod("kube-system", "apiserver", corev1.PodRunning, true),
		pod("kube-system", "job-done", corev1.PodSucceeded, false),
		pod("kube-system", "evicted", corev1.PodFailed, false, ownedBy("ReplicaSet")),
		pod("kube-system", "coredns", corev1.PodRunning, false, waiting("CrashLoopBackOff")),
		pod("kube-flannel", "flannel", corev1.PodPending, false, waiting("ContainerCreating")),
		pod("kube-flannel", "old", corev1.PodRunning, false, func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
		pod("other", "elsewhere", corev1.PodPending, false),
	)
	done, status := check(t, c.PodsReady("kube-system", "kube-flannel"))
	want := "2/5 pods ready in kube-system, kube-flannel; waiting for kube-flannel/flannel (ContainerCreating), " +
		"kube-flannel/old (terminating), kube-system/coredns (CrashLoopBackOff)"
	if done || status != want {
		t.Errorf("got %v %q\nwant %q", done, status, want)
	}
	if done, status := check(t, c.PodsReady()); done || !strings.Contains(status, "in all namespaces") ||
		!strings.HasPrefix(status, "2/6 pods ready") {
		t.Errorf("all namespaces: %v %q", done, status)
	}

	orphan, _ := fakeClient(pod("kube-system", "static", corev1.PodFailed, false))
	if done, status := check(t, orphan.PodsReady("kube-system")); done || !strings.Contains(status, "static (Failed)") {
		t.Errorf("a failed pod nothing replaces is waited for: %v %q", done, status)
	}

	ok, _ := fakeClient(pod("kube-system", "a", corev1.PodRunning, true), pod("kube-system", "b", corev1.PodSucceeded, false))
	if done, status := check(t, ok.PodsReady("kube-system")); !done || status != "2/2 pods ready in kube-system" {
		t.Errorf("all ready: %v %q", done, status)
	}
}

func TestNodeAndPodReady(t *testing.T) {
	if NodeReady(&corev1.Node{}) || !NodeReady(node("n", corev1.ConditionTrue)) || NodeReady(node("n", corev1.ConditionFalse)) {
		t.Error("NodeReady")
	}
	for _, tc := range []struct {
		p    *corev1.Pod
		want bool
	}{
		{pod("ns", "p", corev1.PodRunning, true), true},
		{pod("ns", "p", corev1.PodRunning, false), false},
		{pod("ns", "p", corev1.PodSucceeded, false), true},
		{pod("ns", "p", corev1.PodPending, true), false},
		{pod("ns", "p", corev1.PodFailed, false), false},
		{&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, false},
	} {
		if got := PodReady(tc.p); got != tc.want {
			t.Errorf("PodReady(%s, ready=%v) = %v", tc.p.Status.Phase, tc.p.Status.Conditions, got)
		}
	}
}

func TestListSome(t *testing.T) {
	if got := listSome([]string{"a", "b", "c", "d", "e"}); got != "a, b, c and 2 more" {
		t.Errorf("got %q", got)
	}
	if got := listSome([]string{"a", "b"}); got != "a, b" {
		t.Errorf("got %q", got)
	}
}

// TestStaticPodsReady: the verdict on a kubelet's own pod list. A pod the kubelet does not list (it is replacing
// it under a new UID), a pod still starting and a pod with a container not ready are waited for.
func TestStaticPodsReady(t *testing.T) {
	running := func(name string, ready bool) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: ready,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
		}
	}
	starting := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-cp1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	names := []string{"etcd", "kube-apiserver"}
	for _, c := range []struct {
		name string
		pods []corev1.Pod
		done bool
		says string
	}{
		{"all ready", []corev1.Pod{running("etcd-cp1", true), running("kube-apiserver-cp1", true), running("kube-proxy-x", false)}, true, "2/2"},
		{"one being replaced", []corev1.Pod{running("etcd-cp1", true)}, false, "kube-apiserver (not run by the kubelet)"},
		{"one starting", []corev1.Pod{starting, running("kube-apiserver-cp1", true)}, false, "etcd (Pending)"},
		{"one not ready", []corev1.Pod{running("etcd-cp1", true), running("kube-apiserver-cp1", false)}, false, "kube-apiserver (not ready)"},
		{"another node's", []corev1.Pod{running("etcd-cp2", true), running("kube-apiserver-cp2", true)}, false, "0/2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			done, status, err := staticPodsReady(&corev1.PodList{Items: c.pods}, "cp1", names)
			if err != nil || done != c.done || !strings.Contains(status, c.says) {
				t.Errorf("staticPodsReady = %v, %q, %v; want %v and a status saying %q", done, status, err, c.done, c.says)
			}
		})
	}
}
