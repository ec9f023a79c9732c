package installer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// Status is what runs in a cluster right now.
type Status struct {
	Cluster     string               `json:"cluster"`
	Endpoint    string               `json:"endpoint"`
	VIPHolder   string               `json:"vipHolder,omitempty"` // control plane holding the VIP
	VIPAnswers  bool                 `json:"vipAnswers"`          // the API answers through the VIP
	Nodes       []NodeStatus         `json:"nodes"`
	APIServers  []EndpointStatus     `json:"apiServers"`
	Etcd        []EtcdStatus         `json:"etcd"`
	DNS         []EndpointStatus     `json:"dns,omitempty"`
	Registries  []RegistryStatus     `json:"registries,omitempty"`
	Storage     []StorageClassStatus `json:"storageClasses,omitempty"`
	Versions    []HostVersions       `json:"versions"`              // what runs on each node that answered
	Listeners   []HostListeners      `json:"listeners"`             // every host's listening sockets and their planes
	Unreachable []string             `json:"unreachable,omitempty"` // hosts berth could not reach over SSH
}

// HostVersions are the versions of the components on one node, as its facts read them (see Components).
type HostVersions struct {
	Host     string            `json:"host"`
	Versions map[string]string `json:"versions"`
}

// NodeStatus is one node as the API sees it.
type NodeStatus struct {
	Name       string `json:"name"`
	Ready      bool   `json:"ready"`
	Version    string `json:"version"`
	InternalIP string `json:"internalIP"`
	Roles      string `json:"roles"`
	Registered bool   `json:"registered"`
}

// EndpointStatus is one server's health.
type EndpointStatus struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail,omitempty"`
}

// EtcdStatus is one etcd member.
type EtcdStatus struct {
	Host    string `json:"host"`
	Member  bool   `json:"member"`
	Healthy bool   `json:"healthy"`
	Leader  bool   `json:"leader"`
	Detail  string `json:"detail,omitempty"`
}

// Healthy reports whether everything berth installed is up.
func (s *Status) Healthy() bool {
	if !s.VIPAnswers || len(s.Unreachable) > 0 {
		return false
	}
	for _, n := range s.Nodes {
		if !n.Ready {
			return false
		}
	}
	for _, a := range s.APIServers {
		if !a.Healthy {
			return false
		}
	}
	for _, e := range s.Etcd {
		if !e.Healthy {
			return false
		}
	}
	for _, d := range s.DNS {
		if !d.Healthy {
			return false
		}
	}
	for _, r := range s.Registries {
		if !r.Reachable || !r.InSync {
			return false
		}
	}
	for _, h := range s.Listeners {
		if h.Firewall == FirewallChanged || h.Firewall == FirewallAbsent || h.Firewall == FirewallLeft {
			return false // berth install puts it right
		}
	}
	return true
}

// ClusterStatus reads the status of the cluster an inventory describes. It only reads. stateDir is the base of the
// state directories ("" for the default): the registries are read with the registry CA kept there.
func ClusterStatus(ctx context.Context, inv *inventory.Inventory, stateDir string, log *slog.Logger) (*Status, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := phase.StateDir(stateDir, inv.Metadata.Name)
	if err != nil {
		return nil, err
	}
	pool := action.NewPool(inv, log)
	defer pool.Close()
	c := &Cluster{Inv: inv, Pool: pool, Log: log, StateDir: dir}
	st := &Status{Cluster: inv.Metadata.Name, Endpoint: inv.APIEndpoint()}

	// Read every node that answers (its state and component versions); the others are reported, not fatal.
	var mu sync.Mutex
	up := map[string]bool{}
	_ = phase.ParallelEach(ctx, phase.DefaultConcurrency, inv.Nodes(), func(h *inventory.Host) string { return h.Name },
		func(ctx context.Context, h *inventory.Host) error {
			e, err := pool.Get(h.Name)
			if err == nil {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = e.Connect(cctx)
				cancel()
			}
			if err == nil {
				err = c.refresh(ctx, h.Name)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st.Unreachable = append(st.Unreachable, h.Name)
				return err
			}
			up[h.Name] = true
			return nil
		})
	sort.Strings(st.Unreachable)
	var reachable []*inventory.Host
	for _, h := range inv.Nodes() {
		if up[h.Name] {
			st.Versions = append(st.Versions, HostVersions{Host: h.Name, Versions: c.State(h.Name).Versions})
			if h.Has(inventory.RoleControlPlane) {
				reachable = append(reachable, h)
			}
		}
	}
	if len(reachable) == 0 {
		return st, fmt.Errorf("no control plane of %s answers over SSH", inv.Metadata.Name)
	}
	if inv.ControlPlane.LoadBalancer.Type == inventory.LBKeepalivedHAProxy {
		holder, err := vipHolder(ctx, c)
		if err == nil {
			st.VIPHolder = holder
		}
	}
	k, err := c.Kube(ctx)
	if err != nil {
		return st, fmt.Errorf("reach the API of %s: %w", inv.Metadata.Name, err)
	}
	st.VIPAnswers = apiAnswers(ctx, k, inv.APIEndpoint())
	if err := st.readNodes(ctx, c, k); err != nil {
		return st, err
	}
	st.readStorageClasses(ctx, k)
	st.readAPIServers(ctx, c, reachable)
	st.readEtcd(ctx, c, reachable)
	st.DNS = dnsStatus(ctx, c)
	st.readRegistries(ctx, c)
	st.readListeners(ctx, c)
	return st, nil
}

// apiAnswers reports whether the API's /readyz answers through endpoint (dialled from the tunnel host).
func apiAnswers(ctx context.Context, k *kube.Client, endpoint string) bool {
	return kube.ProbeAPI(ctx, endpoint, k.DialContext) == nil
}

func (st *Status) readNodes(ctx context.Context, c *Cluster, k *kube.Client) error {
	list, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	seen := map[string]bool{}
	for _, n := range list.Items {
		ns := NodeStatus{Name: n.Name, Ready: kube.NodeReady(&n), Version: n.Status.NodeInfo.KubeletVersion, Registered: true}
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ns.InternalIP = a.Address
			}
		}
		var roles []string
		for l := range n.Labels {
			if r, ok := strings.CutPrefix(l, "node-role.kubernetes.io/"); ok {
				roles = append(roles, r)
			}
		}
		sort.Strings(roles)
		ns.Roles = strings.Join(roles, ",")
		st.Nodes = append(st.Nodes, ns)
		seen[n.Name] = true
	}
	for _, h := range c.Inv.Nodes() {
		if !seen[h.Name] {
			st.Nodes = append(st.Nodes, NodeStatus{Name: h.Name})
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	return nil
}

// StorageClassStatus is one StorageClass of the cluster and the volumes bound through it.
type StorageClassStatus struct {
	Name        string `json:"name"`
	Provisioner string `json:"provisioner"`
	Default     bool   `json:"default"`
	Volumes     int    `json:"volumes"` // persistent volumes of the class
	Error       string `json:"error,omitempty"`
}

// readStorageClasses lists the cluster's storage classes with how many volumes each holds.
func (st *Status) readStorageClasses(ctx context.Context, k *kube.Client) {
	list, err := k.Clientset().StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		st.Storage = []StorageClassStatus{{Name: "-", Error: "list storage classes: " + err.Error()}}
		return
	}
	volumes := map[string]int{}
	if pvs, err := k.Clientset().CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, pv := range pvs.Items {
			volumes[pv.Spec.StorageClassName]++
		}
	}
	for _, sc := range list.Items {
		st.Storage = append(st.Storage, StorageClassStatus{Name: sc.Name, Provisioner: sc.Provisioner,
			Default: sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true", Volumes: volumes[sc.Name]})
	}
	sort.Slice(st.Storage, func(i, j int) bool { return st.Storage[i].Name < st.Storage[j].Name })
}

func (st *Status) readAPIServers(ctx context.Context, c *Cluster, reachable []*inventory.Host) {
	port := c.Inv.ControlPlane.LoadBalancer.APIServerPort
	for _, h := range c.Inv.ControlPlanes() {
		addr := net.JoinHostPort(c.Inv.NodeIP(h), fmt.Sprint(port))
		es := EndpointStatus{Host: h.Name, Address: addr}
		via, err := c.Host(reachable[0].Name)
		if err == nil {
			err = kube.ProbeAPI(ctx, addr, via.DialContext)
		}
		es.Healthy = err == nil
		if err != nil {
			es.Detail = err.Error()
		}
		st.APIServers = append(st.APIServers, es)
	}
}

func (st *Status) readEtcd(ctx context.Context, c *Cluster, reachable []*inventory.Host) {
	up := map[string]bool{}
	for _, h := range reachable {
		up[h.Name] = true
	}
	e, err := c.Etcd(ctx)
	var health []kube.MemberHealth
	if err == nil {
		health = e.Health(ctx)
		e.Close()
	}
	for _, h := range c.Inv.ControlPlanes() {
		es := EtcdStatus{Host: h.Name}
		switch {
		case !up[h.Name]:
			es.Detail = "host unreachable"
		case err != nil:
			es.Detail = firstLine(err.Error())
		default:
			for _, mh := range health {
				if mh.Endpoint == c.EtcdEndpoint(h) {
					es.Member, es.Healthy, es.Leader, es.Detail = mh.ID != 0, mh.Healthy, mh.Leader, firstLine(mh.Err)
				}
			}
		}
		st.Etcd = append(st.Etcd, es)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
