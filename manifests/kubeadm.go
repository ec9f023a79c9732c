package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IgnoredPreflight are kubeadm's preflight checks berth turns off, comma-separated, for init, join and upgrade:
// berth's own preflight has checked the host; kubeadm's cannot read kernel configs or modules in containers and
// objects to swap that the kubelet is configured to tolerate. HTTPProxyCIDR checks proxy settings an air-gapped
// host does not have, and kubeadm 1.31 built with Go 1.26 fails it on its own bracketed-IPv4 test URL.
const IgnoredPreflight = "SystemVerification,Swap,HTTPProxyCIDR"

// sanName matches a DNS name kubeadm accepts in a certificate, with a wildcard only as its first label.
var sanName = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// CRISocket is containerd's CRI endpoint.
const CRISocket = "unix:///run/containerd/containerd.sock"

// Cluster is what every node's kubeadm configuration shares.
type Cluster struct {
	Name                 string            // cluster name (kubeconfig context, ClusterConfiguration.clusterName)
	KubernetesVersion    string            // from the bundle, e.g. v1.31.14
	ImageRepository      string            // where kubeadm's images are tagged, e.g. registry.k8s.io
	ControlPlaneEndpoint string            // VIP:port clients and kubelets use
	APIServerPort        int               // each API server's own port, behind haproxy
	PodCIDR              string            // pod network
	ServiceCIDR          string            // service network
	ClusterDomain        string            // DNS domain
	CertSANs             []string          // extra API server certificate names: VIP, the inventory's certSANs, every control-plane address
	ProxyMode            string            // iptables or nftables
	FeatureGates         map[string]bool   // for every component
	APIServerArgs        map[string]string // extra kube-apiserver flags
	DisableCoreDNS       bool              // berth installs its own DNS add-on instead
	ClusterDNS           []string          // kubelet clusterDNS; empty means kubeadm's default (10th service address)
	ResolvConf           string            // kubelet resolvConf (KubeletResolvConfPath); empty keeps the host's /etc/resolv.conf
	Kubelet              Kubelet           // kubelet settings
}

// Kubelet holds the kubelet settings berth controls.
type Kubelet struct {
	CgroupDriver   string            // cgroupfs or systemd, from host facts
	MaxPods        int               // 0 means the kubelet default
	SystemReserved map[string]string // resources kept for the OS
	KubeReserved   map[string]string // resources kept for Kubernetes daemons
	ExtraArgs      map[string]string // extra flags
}

// Node is one host as kubeadm sees it.
type Node struct {
	Name         string   // node name
	Address      string   // the control-plane NIC's address: advertised, bound and used as node IP
	Taints       []string // key[=value]:Effect; nil keeps kubeadm's default (control planes tainted)
	ControlPlane bool     // control-plane node (runs stacked etcd)
}

// Join carries what a node needs to join an existing cluster.
type Join struct {
	Token          string   // bootstrap token id.secret
	CACertHashes   []string // sha256:... of the cluster CA public key
	CertificateKey string   // decrypts the uploaded control-plane certificates (control planes only)
}

func (c Cluster) check() error {
	var errs []error
	for name, v := range map[string]string{"KubernetesVersion": c.KubernetesVersion, "ControlPlaneEndpoint": c.ControlPlaneEndpoint,
		"PodCIDR": c.PodCIDR, "ServiceCIDR": c.ServiceCIDR, "ClusterDomain": c.ClusterDomain, "Name": c.Name} {
		if v == "" {
			errs = append(errs, fmt.Errorf("cluster %s is empty", name))
		}
	}
	if c.APIServerPort == 0 {
		errs = append(errs, errors.New("cluster APIServerPort is 0"))
	}
	for _, san := range c.CertSANs {
		if _, err := netip.ParseAddr(san); err != nil && !sanName.MatchString(san) {
			errs = append(errs, fmt.Errorf("certificate name %q is neither an IP address nor a DNS name", san))
		}
	}
	if c.Kubelet.CgroupDriver != "cgroupfs" && c.Kubelet.CgroupDriver != "systemd" {
		errs = append(errs, fmt.Errorf("kubelet cgroup driver %q is neither cgroupfs nor systemd", c.Kubelet.CgroupDriver))
	}
	return errors.Join(errs...)
}

func (n Node) check() error {
	if n.Name == "" {
		return errors.New("node name is empty")
	}
	if _, err := netip.ParseAddr(n.Address); err != nil {
		return fmt.Errorf("node %s: address %q: %w", n.Name, n.Address, err)
	}
	return nil
}

// arg is one entry of kubeadm v1beta4's structured extra arguments.
type arg struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

func args(m map[string]string) []arg {
	out := make([]arg, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, arg{k, m[k]})
	}
	return out
}

type taint struct {
	Key    string `yaml:"key"`
	Value  string `yaml:"value,omitempty"`
	Effect string `yaml:"effect"`
}

func parseTaints(ts []string) ([]taint, error) {
	out := []taint{}
	for _, t := range ts {
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q has no effect", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, taint{k, v, effect})
	}
	return out, nil
}

type nodeRegistration struct {
	Name             string   `yaml:"name"`
	CRISocket        string   `yaml:"criSocket"`
	ImagePullPolicy  string   `yaml:"imagePullPolicy"`
	KubeletExtraArgs []arg    `yaml:"kubeletExtraArgs"`
	Taints           []taint  `yaml:"taints,omitempty"`
	IgnorePreflight  []string `yaml:"ignorePreflightErrors,omitempty"`
}

func (n Node) registration(c Cluster) (nodeRegistration, error) {
	// The kubelet serves (10250) on the node's address, the one the API server reaches it on, not on every
	// address; its health endpoint stays on loopback.
	extra := map[string]string{"node-ip": n.Address, "address": n.Address}
	for k, v := range c.Kubelet.ExtraArgs {
		extra[k] = v
	}
	r := nodeRegistration{Name: n.Name, CRISocket: CRISocket, ImagePullPolicy: "Never", KubeletExtraArgs: args(extra),
		IgnorePreflight: strings.Split(IgnoredPreflight, ",")}
	if n.Taints != nil {
		t, err := parseTaints(n.Taints)
		if err != nil {
			return r, err
		}
		r.Taints = t
	}
	return r, nil
}

// KubeadmInit renders the configuration for `kubeadm init` on the first control plane: InitConfiguration,
// ClusterConfiguration, KubeletConfiguration and KubeProxyConfiguration in one multi-document file.
// token and certificateKey are secrets: the file must be written 0600 and removed after use.
func KubeadmInit(c Cluster, n Node, token, certificateKey string) ([]byte, error) {
	if err := errors.Join(c.check(), n.check()); err != nil {
		return nil, err
	}
	reg, err := n.registration(c)
	if err != nil {
		return nil, err
	}
	init := map[string]any{
		"apiVersion": "kubeadm.k8s.io/v1beta4",
		"kind":       "InitConfiguration",
		"bootstrapTokens": []map[string]any{{
			"token": token, "ttl": "2h0m0s", "usages": []string{"signing", "authentication"},
			"groups": []string{"system:bootstrappers:kubeadm:default-node-token"},
		}},
		"certificateKey":   certificateKey,
		"nodeRegistration": reg,
		"localAPIEndpoint": map[string]any{"advertiseAddress": n.Address, "bindPort": c.APIServerPort},
		"patches":          map[string]any{"directory": PatchesDir},
	}
	return documents(init, clusterConfiguration(c), kubeletConfiguration(c), kubeProxyConfiguration(c))
}

// KubeadmJoin renders the configuration for `kubeadm join` on any other node. j holds secrets: write the file
// 0600 and remove it after use.
func KubeadmJoin(c Cluster, n Node, j Join) ([]byte, error) {
	if err := errors.Join(c.check(), n.check()); err != nil {
		return nil, err
	}
	if j.Token == "" || len(j.CACertHashes) == 0 {
		return nil, errors.New("join needs a bootstrap token and the CA certificate hash")
	}
	reg, err := n.registration(c)
	if err != nil {
		return nil, err
	}
	join := map[string]any{
		"apiVersion": "kubeadm.k8s.io/v1beta4",
		"kind":       "JoinConfiguration",
		"discovery": map[string]any{"bootstrapToken": map[string]any{
			"apiServerEndpoint": c.ControlPlaneEndpoint, "token": j.Token, "caCertHashes": j.CACertHashes,
		}},
		"nodeRegistration": reg,
	}
	if n.ControlPlane {
		join["patches"] = map[string]any{"directory": PatchesDir}
		if j.CertificateKey == "" {
			return nil, errors.New("a control plane joins with the certificate key")
		}
		join["controlPlane"] = map[string]any{
			"localAPIEndpoint": map[string]any{"advertiseAddress": n.Address, "bindPort": c.APIServerPort},
			"certificateKey":   j.CertificateKey,
		}
	}
	return documents(join)
}

func clusterConfiguration(c Cluster) map[string]any {
	apiArgs := map[string]string{}
	for k, v := range c.APIServerArgs {
		apiArgs[k] = v
	}
	if gates := featureGates(apiServerGates(c)); gates != "" {
		apiArgs["feature-gates"] = gates
	}
	cc := map[string]any{
		"apiVersion":           "kubeadm.k8s.io/v1beta4",
		"kind":                 "ClusterConfiguration",
		"clusterName":          c.Name,
		"kubernetesVersion":    c.KubernetesVersion,
		"controlPlaneEndpoint": c.ControlPlaneEndpoint,
		"networking":           map[string]any{"podSubnet": c.PodCIDR, "serviceSubnet": c.ServiceCIDR, "dnsDomain": c.ClusterDomain},
		"apiServer":            map[string]any{"certSANs": nonNil(c.CertSANs), "extraArgs": args(apiArgs)},
		"dns":                  map[string]any{"disabled": c.DisableCoreDNS},
	}
	if c.ImageRepository != "" {
		cc["imageRepository"] = c.ImageRepository
	}
	if len(c.FeatureGates) > 0 {
		cc["featureGates"] = c.FeatureGates
	}
	return cc
}

// EvictionDiskPercent is the free share of a node's file system under which its kubelet evicts pods and removes
// every image no container uses, whatever the image GC thresholds: images from the bundle that are not running yet
// (an upgrade's, just loaded) included. Staging must leave more than this free.
const EvictionDiskPercent = 5

func kubeletConfiguration(c Cluster) map[string]any {
	k := map[string]any{
		"apiVersion":    "kubelet.config.k8s.io/v1beta1",
		"kind":          "KubeletConfiguration",
		"cgroupDriver":  c.Kubelet.CgroupDriver,
		"failSwapOn":    false,
		"clusterDomain": c.ClusterDomain,
		// Images come from the bundle, never from a registry: keep them on disk pressure too.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"evictionHard": map[string]string{"nodefs.available": fmt.Sprintf("%d%%", EvictionDiskPercent),
			"imagefs.available": fmt.Sprintf("%d%%", EvictionDiskPercent), "memory.available": "100Mi"},
	}
	if len(c.ClusterDNS) > 0 {
		k["clusterDNS"] = c.ClusterDNS
	}
	if c.ResolvConf != "" {
		k["resolvConf"] = c.ResolvConf
	}
	if c.Kubelet.MaxPods > 0 {
		k["maxPods"] = c.Kubelet.MaxPods
	}
	if len(c.Kubelet.SystemReserved) > 0 {
		k["systemReserved"] = c.Kubelet.SystemReserved
	}
	if len(c.Kubelet.KubeReserved) > 0 {
		k["kubeReserved"] = c.Kubelet.KubeReserved
	}
	if len(c.FeatureGates) > 0 {
		k["featureGates"] = c.FeatureGates
	}
	return k
}

func kubeProxyConfiguration(c Cluster) map[string]any {
	return map[string]any{
		"apiVersion":  "kubeproxy.config.k8s.io/v1alpha1",
		"kind":        "KubeProxyConfiguration",
		"mode":        c.ProxyMode,
		"clusterCIDR": c.PodCIDR,
		// kube-proxy's health and metrics servers on loopback: one configuration serves every node, so no node's
		// own address can be named, and nothing off the host reads them.
		"healthzBindAddress": "127.0.0.1:10256",
		"metricsBindAddress": "127.0.0.1:10249",
		// maxPerCore 0 leaves nf_conntrack_max as the host has it (not writable in every environment).
		"conntrack": map[string]any{"maxPerCore": 0},
	}
}

// apiServerGates are the API server's feature gates: the inventory's, plus APIServerTracing=false on the minors where
// that gate is beta and on by default (1.27 to 1.33), unless the inventory sets it.
//
// With tracing on, the API server hands etcd's client a gRPC unary interceptor of its own (grpc.WithUnaryInterceptor),
// and gRPC keeps one such interceptor: the last. It takes the place of the client's retry interceptor, so a read that
// an etcd member answers with "etcdserver: leader changed" (a leadership hand-off in flight, a retryable Unavailable)
// reaches the API client as a 500 instead of being retried. Every leadership move that berth makes (upgrade, certs
// renew, node remove) can meet such a read. berth configures no tracing, so the gate off costs nothing.
func apiServerGates(c Cluster) map[string]bool {
	gates := maps.Clone(c.FeatureGates)
	if _, set := gates["APIServerTracing"]; set {
		return gates
	}
	if minor, ok := kubernetesMinor(c.KubernetesVersion); ok && minor >= 27 && minor <= 33 {
		if gates == nil {
			gates = map[string]bool{}
		}
		gates["APIServerTracing"] = false
	}
	return gates
}

// kubernetesMinor reads the minor of a v1.N.P version.
func kubernetesMinor(v string) (int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	minor, err := strconv.Atoi(parts[1])
	return minor, err == nil
}

func featureGates(g map[string]bool) string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%t", k, g[k])
	}
	return strings.Join(parts, ",")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// documents marshals each value as one YAML document.
func documents(docs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
