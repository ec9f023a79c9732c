package kube

import (
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// tunnelGetter hands Helm the client's REST configuration, whose connections go through the failover tunnels
// (genericclioptions.RESTClientGetter). Helm asks for a discovery client and a REST mapper at each step of an
// install (reachability, capabilities, building the objects); the getter makes one of each and hands it out
// again, so that the API's groups are discovered once per release rather than once per step.
type tunnelGetter struct {
	config    *rest.Config
	namespace string

	mu        sync.Mutex
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

// ToRESTConfig returns a copy of the tunnelled configuration.
func (g *tunnelGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

// ToDiscoveryClient returns the release's one cached discovery client.
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

// ToRESTMapper returns the release's one REST mapper, built on its discovery client.
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

// ToRawKubeConfigLoader answers for a kubeconfig that does not exist on this side of the tunnel.
func (g *tunnelGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return tunnelClientConfig{g} }

// tunnelClientConfig answers Helm's questions about "the kubeconfig" from the tunnelled configuration; there is no
// kubeconfig file on this side of the tunnel to read.
type tunnelClientConfig struct{ g *tunnelGetter }

// RawConfig fails: there is no kubeconfig file to read.
func (c tunnelClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, errors.New("the cluster is reached through an SSH tunnel: there is no kubeconfig to read")
}

// ClientConfig returns the tunnelled configuration.
func (c tunnelClientConfig) ClientConfig() (*rest.Config, error) { return c.g.ToRESTConfig() }

// Namespace returns the release's namespace.
func (c tunnelClientConfig) Namespace() (string, bool, error) { return c.g.namespace, true, nil }

// ConfigAccess returns the default loading rules, which Helm only consults for kubeconfig files.
func (c tunnelClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
