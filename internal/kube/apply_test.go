package kube

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func configMap(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "kube-system"},
		"data":     map[string]any{"key": value},
	}}
}

func TestObjects(t *testing.T) {
	manifest := `# leading comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: berth-system
---
---
# an empty document
---
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "berth-system"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: berth-system}
spec: {replicas: 2}
`
	objs, err := Objects([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, Describe(o))
	}
	want := []string{"Namespace berth-system", "ConfigMap berth-system/c", "Deployment berth-system/d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if r, _, _ := unstructured.NestedInt64(objs[2].Object, "spec", "replicas"); r != 2 {
		t.Errorf("replicas %d, want 2", r)
	}

	for name, bad := range map[string]string{
		"no kind":    "apiVersion: v1\nmetadata: {name: x}\n",
		"not yaml":   "kind: [\n",
		"not a map":  "- a\n- b\n",
		"no version": "kind: ConfigMap\nmetadata: {name: x}\n",
	} {
		if _, err := Objects([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if objs, err := Objects(nil); err != nil || len(objs) != 0 {
		t.Errorf("empty manifest: %v, %d objects", err, len(objs))
	}
}

func TestSameObject(t *testing.T) {
	live := configMap("c", "1")
	live.SetResourceVersion("10")
	live.SetGeneration(3)
	live.SetManagedFields(nil)
	unstructured.SetNestedSlice(live.Object, []any{map[string]any{"manager": "kubectl"}}, "metadata", "managedFields")

	dry := configMap("c", "1")
	dry.SetResourceVersion("11")
	dry.SetGeneration(4)
	unstructured.SetNestedSlice(dry.Object, []any{map[string]any{"manager": FieldManager}}, "metadata", "managedFields")
	if !sameObject(live, dry) {
		t.Error("objects differing only in bookkeeping are not the same")
	}
	if !strings.Contains(live.GetResourceVersion(), "10") {
		t.Error("sameObject changed its argument")
	}

	changed := dry.DeepCopy()
	unstructured.SetNestedField(changed.Object, "2", "data", "key")
	if sameObject(live, changed) {
		t.Error("a changed value goes unnoticed")
	}
	labelled := dry.DeepCopy()
	labelled.SetLabels(map[string]string{"a": "b"})
	if sameObject(live, labelled) {
		t.Error("a new label goes unnoticed")
	}
}

func TestChangedObjects(t *testing.T) {
	have := []*unstructured.Unstructured{configMap("same", "1"), configMap("changed", "1"), configMap("gone", "1")}
	want := []*unstructured.Unstructured{configMap("same", "1"), configMap("changed", "2"), configMap("new", "1")}
	got := ChangedObjects(have, want)
	exp := []string{"add ConfigMap kube-system/new", "change ConfigMap kube-system/changed", "remove ConfigMap kube-system/gone"}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("got %q, want %q", got, exp)
	}
	if got := ChangedObjects(want, want); len(got) != 0 {
		t.Errorf("identical renders differ: %q", got)
	}
}

// TestDiffAndApplyOnTheWire checks what Diff and Apply send: server-side apply with berth as field manager and
// force, a dry run for Diff, and a second discovery for a kind the first did not know.
func TestDiffAndApplyOnTheWire(t *testing.T) {
	c, _, _, store, _ := twoControlPlanes(t)
	ctx := context.Background()

	res, err := c.Diff(ctx, configMap("c", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if res != (ApplyResult{Object: "ConfigMap kube-system/c", Created: true, Changed: true}) {
		t.Errorf("diff of a missing object: %+v", res)
	}
	if err := c.Apply(ctx, configMap("c", "1")); err != nil {
		t.Fatal(err)
	}
	last := store.requests("")[len(store.requests(""))-1]
	q, _ := url.ParseQuery(last.Query)
	if last.Method != http.MethodPatch || last.ContentType != "application/apply-patch+yaml" ||
		q.Get("fieldManager") != FieldManager || q.Get("force") != "true" || q.Has("dryRun") {
		t.Errorf("apply sent %s %s?%s (%s)", last.Method, last.Path, last.Query, last.ContentType)
	}

	results, err := c.DiffAll(ctx, []*unstructured.Unstructured{configMap("c", "1"), configMap("c", "2")})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Changed || !results[1].Changed || results[1].Created {
		t.Errorf("diff of the applied object, then of a change: %+v", results)
	}
	last = store.requests("")[len(store.requests(""))-1]
	if q, _ := url.ParseQuery(last.Query); q.Get("dryRun") != "All" {
		t.Errorf("diff sent %s?%s, want a dry run", last.Method, last.Query)
	}
	if v := store.objects["/api/v1/namespaces/kube-system/configmaps/c"]["data"].(map[string]any)["key"]; v != "1" {
		t.Errorf("diff changed the object: key=%v", v)
	}

	discoveries := func() int {
		n := 0
		store.mu.Lock()
		defer store.mu.Unlock()
		for _, r := range store.seen {
			if r.Path == "/api" {
				n++
			}
		}
		return n
	}
	before := discoveries()
	deploy := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "namespace": "x"}}}
	if err := c.Apply(ctx, deploy); err == nil || !strings.Contains(err.Error(), "find the resource of apps/v1, Kind=Deployment") {
		t.Errorf("apply of an unknown kind: %v", err)
	}
	if after := discoveries(); after != before+1 {
		t.Errorf("discovered %d more times for an unknown kind, want once more", after-before)
	}
}
