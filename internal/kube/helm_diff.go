package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Diff says why the release must be installed or upgraded to hold want (the objects the chart renders now), or
// "" when the deployed revision renders the same objects and the cluster still holds them unchanged.
func (r *Release) Diff(ctx context.Context, want []*unstructured.Unstructured) (string, error) {
	last, err := r.Last()
	if err != nil {
		return "", err
	}
	if last == nil {
		return "install", nil
	}
	if last.Info.Status != release.StatusDeployed {
		return fmt.Sprintf("upgrade (revision %d is %s)", last.Version, last.Info.Status), nil
	}
	deployed, err := Objects([]byte(last.Manifest))
	if err != nil {
		return "", fmt.Errorf("read the manifest of %s revision %d: %w", r.name, last.Version, err)
	}
	if changed := ChangedObjects(deployed, want); len(changed) > 0 {
		return fmt.Sprintf("upgrade from revision %d: %s", last.Version, strings.Join(changed, ", ")), nil
	}
	for _, o := range want {
		res, err := r.c.Diff(ctx, o)
		if err != nil {
			return "", err
		}
		if res.Changed {
			what := "changed"
			if res.Created {
				what = "missing"
			}
			return fmt.Sprintf("upgrade: %s is %s in the cluster", res.Object, what), nil
		}
	}
	return "", nil
}

// ChangedObjects names the objects that differ between two renders ("add X", "change X", "remove X"), sorted.
func ChangedObjects(have, want []*unstructured.Unstructured) []string {
	index := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			m[Describe(o)] = o
		}
		return m
	}
	h, w := index(have), index(want)
	var out []string
	for name, o := range w {
		switch old, ok := h[name]; {
		case !ok:
			out = append(out, "add "+name)
		case !equality.Semantic.DeepEqual(old.Object, o.Object):
			out = append(out, "change "+name)
		}
	}
	for name := range h {
		if _, ok := w[name]; !ok {
			out = append(out, "remove "+name)
		}
	}
	sort.Strings(out)
	return out
}
