package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthsh/berth/internal/remote"
)

// fieldManager is the name berth's changes carry in managedFields.
const fieldManager = "berth"

// kubeClient talks to the cluster's API through an SSH tunnel: connections are opened from a control plane, so
// the VIP needs no route from the machine running berth.
type kubeClient struct {
	config     *rest.Config
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	mapper     meta.ResettableRESTMapper
	kubeconfig []byte // the admin kubeconfig (server: the VIP)
}

// errNoCluster means no control plane has been initialised yet (a dry run of a fresh install gets this).
var errNoCluster = errors.New("the cluster does not exist yet")

// newKubeClient builds a client from an admin kubeconfig, dialling through a host's SSH connection.
func newKubeClient(kubeconfig []byte, via remote.Host) (*kubeClient, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read admin kubeconfig: %w", err)
	}
	cfg.Dial = via.DialContext
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "berth"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	return &kubeClient{config: cfg, cs: cs, dyn: dyn, mapper: mapper, kubeconfig: kubeconfig}, nil
}

// Kube returns a client of the cluster, reading the admin kubeconfig from the first control plane that has one.
func (c *Cluster) Kube(ctx context.Context) (*kubeClient, error) {
	c.mu.Lock()
	k := c.kube
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	var errs []error
	for _, h := range c.Inv.ControlPlanes() {
		if !c.State(h.Name).Has("admin") {
			continue
		}
		e, err := c.Host(h.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conf, err := e.ReadFile(ctx, adminConf)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k, err := newKubeClient(conf, e)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.kube = k
		c.mu.Unlock()
		return k, nil
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reach the cluster's API: %w", errors.Join(errs...))
	}
	return nil, errNoCluster
}

// objects decodes multi-document YAML into unstructured objects.
func objects(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// applyResult says what applying one object did (or, checked first, would do).
type applyResult struct {
	Object  string // Kind/namespace/name
	Created bool
	Changed bool
}

// resource returns the dynamic client for an object.
func (k *kubeClient) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		k.mapper.Reset()
		if m, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("map %s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		return k.dyn.Resource(m.Resource).Namespace(ns), nil
	}
	return k.dyn.Resource(m.Resource), nil
}

// diff applies obj as a server-side dry run and reports whether a real apply would create or change it.
func (k *kubeClient) diff(ctx context.Context, obj *unstructured.Unstructured) (applyResult, error) {
	res := applyResult{Object: describeObject(obj)}
	ri, err := k.resource(obj)
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
	dry, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return res, fmt.Errorf("check %s: %w", res.Object, err)
	}
	res.Changed = !sameObject(live, dry)
	return res, nil
}

// apply creates or updates obj with server-side apply, berth owning the fields it sets.
func (k *kubeClient) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, err := k.resource(obj)
	if err != nil {
		return err
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply %s: %w", describeObject(obj), err)
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

func describeObject(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}
