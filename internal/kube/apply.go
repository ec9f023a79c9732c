package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// FieldManager is the name berth's changes carry in managedFields.
const FieldManager = "berth"

// ApplyResult says what applying one object did or, from Diff, would do.
type ApplyResult struct {
	Object  string // Describe of the object
	Created bool   // the object does not exist yet
	Changed bool   // applying changes the object (always true when Created)
}

// Objects decodes a manifest of YAML or JSON documents, separated by "---" lines, into objects, skipping empty
// documents. Numbers decode as int64 where they are whole, as from the API.
func Objects(manifest []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		y, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read document %d of the manifest: %w", doc, err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			return nil, fmt.Errorf("decode document %d of the manifest: %w", doc, err)
		}
		if t := bytes.TrimSpace(j); bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("{}")) {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("decode document %d of the manifest: %w", doc, err)
		}
		if u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d of the manifest (%s) has no apiVersion", doc, Describe(u))
		}
		out = append(out, u)
	}
}

// Describe names an object for people: "Kind namespace/name", or "Kind name" when it has no namespace.
func Describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}

// resource returns the dynamic client for an object. A kind the cached discovery does not know makes it discover
// again once: its CustomResourceDefinition may have been created moments before.
func (c *Client) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.mapper.Reset()
		if m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("find the resource of %s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		return c.dyn.Resource(m.Resource).Namespace(ns), nil
	}
	return c.dyn.Resource(m.Resource), nil
}

// Diff applies obj as a server-side dry run and reports whether a real apply would create or change it.
func (c *Client) Diff(ctx context.Context, obj *unstructured.Unstructured) (ApplyResult, error) {
	res := ApplyResult{Object: Describe(obj)}
	ri, err := c.resource(obj)
	if err != nil {
		return res, err
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		res.Created, res.Changed = true, true
		return res, nil
	case err != nil:
		return res, fmt.Errorf("get %s: %w", res.Object, err)
	}
	dry, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true,
		DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return res, fmt.Errorf("dry-run apply %s: %w", res.Object, err)
	}
	res.Changed = !sameObject(live, dry)
	return res, nil
}

// DiffAll diffs objects in order. It stops at the first error, returning the results so far.
func (c *Client) DiffAll(ctx context.Context, objs []*unstructured.Unstructured) ([]ApplyResult, error) {
	out := make([]ApplyResult, 0, len(objs))
	for _, o := range objs {
		r, err := c.Diff(ctx, o)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Apply creates or updates obj with server-side apply: berth owns the fields it sets, taking them over from any
// other manager (force).
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, err := c.resource(obj)
	if err != nil {
		return err
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply %s: %w", Describe(obj), err)
	}
	return nil
}

// ApplyAll applies objects in order (a CustomResourceDefinition before its resources), stopping at the first error.
func (c *Client) ApplyAll(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if err := c.Apply(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// sameObject compares two versions of an object, ignoring bookkeeping that changes without a real change.
func sameObject(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetManagedFields(nil)
		c.SetResourceVersion("")
		c.SetGeneration(0)
		return c.Object
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}
