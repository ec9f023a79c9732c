package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultTimeout bounds one API request (retries through other tunnels included) when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configures a Client.
type Options struct {
	// Kubeconfig is the cluster's admin kubeconfig; its server is the VIP (or whatever the tunnels can reach).
	Kubeconfig []byte
	// Tunnels are the control planes to dial through, in order of preference. With none, the API is dialled
	// directly from this machine.
	Tunnels []Tunnel
	// Logger receives failovers (Info) and Helm's chatter (Debug); nil discards.
	Logger *slog.Logger
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds one dial through one tunnel; zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// DownFor is how long a tunnel host that failed is passed over; zero means DefaultDownFor.
	DownFor time.Duration
}

// Client talks to one cluster's API through SSH tunnels to its control planes, failing over between them.
type Client struct {
	config     *rest.Config
	kubeconfig []byte
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	mapper     meta.ResettableRESTMapper
	log        *slog.Logger
	tunnels    *failover // nil when dialling directly
}

// New builds a Client. It does not contact the cluster.
func New(o Options) (*Client, error) {
	if len(o.Kubeconfig) == 0 {
		return nil, errors.New("kubernetes client: no kubeconfig")
	}
	for i, t := range o.Tunnels {
		if t.Host == "" || t.Dial == nil {
			return nil, fmt.Errorf("kubernetes client: tunnel %d has no host or no dialer", i)
		}
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read the admin kubeconfig: %w", err)
	}
	c := &Client{kubeconfig: o.Kubeconfig, log: o.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	cfg.Timeout = o.Timeout
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "berth"
	// Every byte goes through the tunnels: a proxy configured in this machine's environment would not reach the
	// cluster anyway.
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	if len(o.Tunnels) > 0 {
		c.tunnels = newFailover(o.Tunnels, o.DialTimeout, o.DownFor, c.log)
		cfg.Dial = c.tunnels.dial
		cfg.WrapTransport = c.tunnels.wrapTransport
	}
	c.config = cfg

	// One HTTP client (one connection pool) for the typed and the dynamic clients.
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	c.cs, c.dyn = cs, dyn
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	return c, nil
}

// Clientset returns the typed client.
func (c *Client) Clientset() kubernetes.Interface { return c.cs }

// Dynamic returns the dynamic client.
func (c *Client) Dynamic() dynamic.Interface { return c.dyn }

// RESTConfig returns a copy of the client's configuration, dialling through the same failover tunnels, for
// libraries that build their own clients (Helm, controller-runtime).
func (c *Client) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Kubeconfig returns the admin kubeconfig the client was built from.
func (c *Client) Kubeconfig() []byte { return c.kubeconfig }

// Via returns the host of the tunnel in use: the one the last successful dial went through ("" when dialling
// directly).
func (c *Client) Via() string {
	if c.tunnels == nil {
		return ""
	}
	return c.tunnels.via()
}

// DialContext opens a TCP connection from the current tunnel host, failing over like the API's connections do: a
// host that cannot be dialled through is marked down, while one whose SSH server answers that it cannot reach
// addr (an etcd member that is down, say) is not. It dials directly when the client has no tunnels.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.tunnels == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return c.tunnels.dial(ctx, network, addr)
}
