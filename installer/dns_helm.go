package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// tunnelGetter hands Helm the installer's REST configuration, whose connections go through the SSH tunnel to a
// control plane (genericclioptions.RESTClientGetter). Helm asks for a discovery client and a REST mapper for each
// step of an install (reachability, capabilities, building the objects); the getter makes one of each and hands it
// out again, so that the API's groups are discovered once per release rather than once per step.
type tunnelGetter struct {
	config    *rest.Config
	namespace string

	mu        sync.Mutex
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

func (g *tunnelGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *tunnelGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.discoveryLocked()
}

func (g *tunnelGetter) discoveryLocked() (discovery.CachedDiscoveryInterface, error) {
	if g.discovery == nil {
		dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.config))
		if err != nil {
			return nil, err
		}
		g.discovery = memory.NewMemCacheClient(dc)
	}
	return g.discovery, nil
}

func (g *tunnelGetter) ToRESTMapper() (meta.RESTMapper, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mapper == nil {
		dc, err := g.discoveryLocked()
		if err != nil {
			return nil, err
		}
		g.mapper = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil)
	}
	return g.mapper, nil
}

func (g *tunnelGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return tunnelClientConfig{g} }

// tunnelClientConfig answers Helm's questions about "the kubeconfig" from the tunnelled configuration; there is no
// kubeconfig file on this side of the tunnel to read.
type tunnelClientConfig struct{ g *tunnelGetter }

func (c tunnelClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, errors.New("the cluster is reached through an SSH tunnel: there is no kubeconfig to read")
}
func (c tunnelClientConfig) ClientConfig() (*rest.Config, error) { return c.g.ToRESTConfig() }
func (c tunnelClientConfig) Namespace() (string, bool, error)    { return c.g.namespace, true, nil }
func (c tunnelClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}

// helmRelease installs and upgrades one Helm release of an embedded chart with the SDK (no helm binary, no
// repository): action.Install the first time, action.Upgrade after.
type helmRelease struct {
	name      string
	namespace string
	cfg       *action.Configuration
}

// newHelmRelease prepares the Helm actions for a release, its history kept as Secrets in namespace.
func newHelmRelease(k *kubeClient, name, namespace string, log *slog.Logger) (*helmRelease, error) {
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) { log.Debug(fmt.Sprintf("helm: "+format, v...)) }
	if err := cfg.Init(&tunnelGetter{config: k.config, namespace: namespace}, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("set up helm for %s: %w", name, err)
	}
	return &helmRelease{name: name, namespace: namespace, cfg: cfg}, nil
}

// last returns the latest revision of the release, or nil when it was never installed.
func (h *helmRelease) last() (*release.Release, error) {
	r, err := h.cfg.Releases.Last(h.name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read helm release %s: %w", h.name, err)
	}
	return r, nil
}

// apply installs the release, or upgrades it when it exists. A revision left pending by an interrupted berth
// (SIGKILL mid-install) is marked failed first: berth holds the cluster's lock, so nobody else is working on it,
// and Helm refuses to upgrade over a pending revision.
func (h *helmRelease) apply(ctx context.Context, c *chart.Chart, values map[string]any, timeout time.Duration) (*release.Release, error) {
	last, err := h.last()
	if err != nil {
		return nil, err
	}
	if last == nil {
		in := action.NewInstall(h.cfg)
		in.ReleaseName, in.Namespace, in.Timeout = h.name, h.namespace, timeout
		// berth owns these objects by name (the kube-dns Service above all): adopt them if something left them.
		in.TakeOwnership = true
		r, err := in.RunWithContext(ctx, c, values)
		if err != nil {
			return nil, fmt.Errorf("helm install %s: %w", h.name, err)
		}
		return r, nil
	}
	if last.Info.Status.IsPending() {
		last.Info.Status = release.StatusFailed
		last.Info.Description = "interrupted; marked failed by berth before the next upgrade"
		if err := h.cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("clear the interrupted revision %d of %s: %w", last.Version, h.name, err)
		}
	}
	up := action.NewUpgrade(h.cfg)
	up.Namespace, up.Timeout, up.MaxHistory, up.TakeOwnership = h.namespace, timeout, 10, true
	r, err := up.RunWithContext(ctx, h.name, c, values)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade %s: %w", h.name, err)
	}
	return r, nil
}
