package inventory

// The struct tags carry the schema: `yaml` names the key, `desc` documents it (JSON Schema and docs/inventory.md are
// generated from it), `enum` lists the allowed values, `default` names the value Defaults fills in, and
// `required:"true"` marks keys that must be present.

// APIVersion is the only inventory apiVersion this berth reads.
const APIVersion = "berth.sh/v1alpha1"

// Kind is the kind of an inventory document.
const Kind = "Inventory"

// Inventory is one cluster of the estate: its hosts and everything berth installs on them.
type Inventory struct {
	APIVersion    string        `yaml:"apiVersion" json:"apiVersion" required:"true" enum:"berth.sh/v1alpha1" desc:"Schema version of this file."`
	Kind          string        `yaml:"kind" json:"kind" required:"true" enum:"Inventory" desc:"Always Inventory."`
	Metadata      Metadata      `yaml:"metadata" json:"metadata" required:"true" desc:"Name and environment of the cluster."`
	SSH           SSH           `yaml:"ssh" json:"ssh" required:"true" desc:"How berth reaches every host; hosts may override parts of it."`
	NetworkPlanes NetworkPlanes `yaml:"networkPlanes" json:"networkPlanes" required:"true" desc:"The networks each host is attached to, one NIC per plane."`
	Firewall      *Firewall     `yaml:"firewall,omitempty" json:"firewall,omitempty" desc:"A host firewall (nftables) that lets each plane's NIC accept only that plane's services and keeps pods off the management and control planes (docs/planes.md)."`
	Hosts         []Host        `yaml:"hosts" json:"hosts" required:"true" desc:"Every machine of the cluster."`
	ControlPlane  ControlPlane  `yaml:"controlPlane" json:"controlPlane" required:"true" desc:"The highly available API endpoint."`
	Kubernetes    Kubernetes    `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty" desc:"Cluster networking and kubelet settings. The Kubernetes version comes from the bundle."`
	DNS           DNS           `yaml:"dns,omitempty" json:"dns,omitempty" desc:"Cluster DNS: a host-network DNS backend with dnsmasq answering on port 53."`
	Registries    []Registry    `yaml:"registries,omitempty" json:"registries,omitempty" desc:"Image registries berth runs inside the cluster's network."`
	Storage       *Storage      `yaml:"storage,omitempty" json:"storage,omitempty" desc:"Persistent storage back ends."`
	Tenants       []Tenant      `yaml:"tenants,omitempty" json:"tenants,omitempty" desc:"Tenants of the platform with their quotas and groups."`
	OpenStack     *OpenStack    `yaml:"openstack,omitempty" json:"openstack,omitempty" desc:"The OpenStack cloud tenants and networks are mapped onto."`

	src      *source  // where the inventory was read from; nil when built in memory
	warnings Problems // warnings found by Load
}

// Environments lists the environments of the estate, in promotion order.
var Environments = []string{"dev", "sit", "uat", "perf", "preprod", "prod", "dr"}

// Metadata names the cluster and the environment it belongs to.
type Metadata struct {
	Name        string            `yaml:"name" json:"name" required:"true" desc:"Cluster name: lower case letters, digits and '-', at most 40 characters."`
	Environment string            `yaml:"environment" json:"environment" required:"true" enum:"dev,sit,uat,perf,preprod,prod,dr" desc:"Environment of the estate this cluster belongs to."`
	Description string            `yaml:"description,omitempty" json:"description,omitempty" desc:"Free text for operators."`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty" desc:"Free-form labels (owner, cost centre, change ticket)."`
}

// SSH says how berth logs in to hosts. Hosts may override the user, port, keys, passwords, sudo and the bastion.
type SSH struct {
	User             string     `yaml:"user,omitempty" json:"user,omitempty" default:"root" desc:"Login user. A user other than root needs sudo."`
	Port             int        `yaml:"port,omitempty" json:"port,omitempty" default:"22" desc:"SSH port."`
	IdentityFiles    []string   `yaml:"identityFiles,omitempty" json:"identityFiles,omitempty" desc:"Private key files, relative to the inventory file. Passphrase-protected keys need the agent."`
	Agent            bool       `yaml:"agent,omitempty" json:"agent,omitempty" desc:"Also offer the keys of the ssh-agent at SSH_AUTH_SOCK."`
	PasswordFrom     SecretRef  `yaml:"passwordFrom,omitempty" json:"passwordFrom,omitempty" desc:"Login password by reference: env:VAR or file:PATH. Never inline."`
	KnownHosts       string     `yaml:"knownHosts,omitempty" json:"knownHosts,omitempty" desc:"known_hosts file used to verify host keys, relative to the inventory file. Hosts may pin fingerprints instead."`
	Bastion          *Bastion   `yaml:"bastion,omitempty" json:"bastion,omitempty" desc:"Jump host every connection goes through; hosts may name their own."`
	Sudo             *bool      `yaml:"sudo,omitempty" json:"sudo,omitempty" desc:"Run commands through sudo. Defaults to true for users other than root."`
	SudoPasswordFrom SecretRef  `yaml:"sudoPasswordFrom,omitempty" json:"sudoPasswordFrom,omitempty" desc:"Password sudo asks for, by reference (env:VAR or file:PATH); without it sudo must not ask (NOPASSWD). Sent on sudo's standard input, never on a command line."`
	ConnectTimeout   Duration   `yaml:"connectTimeout,omitempty" json:"connectTimeout,omitempty" default:"10s" desc:"Time allowed to open one SSH connection."`
	Keepalive        Duration   `yaml:"keepalive,omitempty" json:"keepalive,omitempty" default:"15s" desc:"Interval of SSH keepalive requests; 0 turns them off."`
	HostKeys         []HostPins `yaml:"hostKeys,omitempty" json:"hostKeys,omitempty" desc:"Pinned host-key fingerprints by address, for hosts not listed in hosts[] (the bastion, for example)."`
}

// HostPins pins the host-key fingerprints accepted for one address.
type HostPins struct {
	Address      string   `yaml:"address" json:"address" required:"true" desc:"Host address as dialled."`
	Fingerprints []string `yaml:"fingerprints" json:"fingerprints" required:"true" desc:"Accepted SHA256 fingerprints (SHA256:... as ssh-keygen -lf prints them)."`
}

// Bastion is the jump host in front of the hosts.
type Bastion struct {
	Address      string    `yaml:"address" json:"address" required:"true" desc:"Address of the jump host."`
	Port         int       `yaml:"port,omitempty" json:"port,omitempty" default:"22" desc:"SSH port of the jump host."`
	User         string    `yaml:"user,omitempty" json:"user,omitempty" desc:"Login user on the jump host; defaults to ssh.user."`
	IdentityFile string    `yaml:"identityFile,omitempty" json:"identityFile,omitempty" desc:"Private key for the jump host, relative to the inventory file; defaults to ssh.identityFiles."`
	PasswordFrom SecretRef `yaml:"passwordFrom,omitempty" json:"passwordFrom,omitempty" desc:"Password for the jump host by reference (env:VAR or file:PATH)."`
	HostKey      string    `yaml:"hostKey,omitempty" json:"hostKey,omitempty" desc:"Pinned SHA256 fingerprint of the jump host's key; otherwise ssh.knownHosts must list it."`
}

// PlaneName names a network plane.
type PlaneName string

// The four network planes of a host.
const (
	Management PlaneName = "management"
	Control    PlaneName = "control"
	StorageNet PlaneName = "storage"
	Business   PlaneName = "business"
)

// AllPlanes lists the planes in their canonical order.
var AllPlanes = []PlaneName{Management, Control, StorageNet, Business}

// NetworkPlanes defines the networks. Management is required; the others are optional, and traffic of a plane that
// is not defined falls back to the next one (see PlaneFor).
type NetworkPlanes struct {
	Management *Plane `yaml:"management,omitempty" json:"management,omitempty" required:"true" desc:"Operations and SSH access."`
	Control    *Plane `yaml:"control,omitempty" json:"control,omitempty" desc:"Kubernetes system traffic: API server, etcd, kubelet."`
	Storage    *Plane `yaml:"storage,omitempty" json:"storage,omitempty" desc:"Image pulls and pushes, storage back ends."`
	Business   *Plane `yaml:"business,omitempty" json:"business,omitempty" desc:"Application (pod) traffic."`
}

// Firewall configures berth's host firewall: one nftables table, berth, on every host.
type Firewall struct {
	Enabled bool           `yaml:"enabled" json:"enabled" desc:"Write and load the firewall on every host; off removes it."`
	SSHFrom []string       `yaml:"sshFrom,omitempty" json:"sshFrom,omitempty" desc:"More subnets (IPv4 CIDRs) allowed to open SSH on the management NIC, besides the management plane itself and the address berth connects from: the operators' jump hosts."`
	Allow   []FirewallRule `yaml:"allow,omitempty" json:"allow,omitempty" desc:"More services a plane's NIC accepts, besides berth's own: the bank's agents (monitoring, backup) that listen on the hosts."`
}

// FirewallRule opens one more service on a plane's NIC.
type FirewallRule struct {
	Plane       PlaneName `yaml:"plane" json:"plane" required:"true" enum:"management,control,storage,business" desc:"Plane whose NIC accepts it."`
	Proto       string    `yaml:"proto" json:"proto" required:"true" enum:"tcp,udp" desc:"Transport protocol."`
	Ports       string    `yaml:"ports" json:"ports" required:"true" desc:"A port or a range: 9100, or 9100-9102."`
	From        []string  `yaml:"from,omitempty" json:"from,omitempty" desc:"Source subnets (IPv4 CIDRs) allowed; empty for any source."`
	Hosts       []string  `yaml:"hosts,omitempty" json:"hosts,omitempty" desc:"Only on these hosts; empty for every host."`
	Description string    `yaml:"description,omitempty" json:"description,omitempty" desc:"What it is, written as the rule's comment."`
}

// Plane is one network.
type Plane struct {
	CIDR        string `yaml:"cidr" json:"cidr" required:"true" desc:"Subnet of the plane, for example 10.20.0.0/24."`
	VLAN        int    `yaml:"vlan,omitempty" json:"vlan,omitempty" desc:"VLAN ID (1-4094), for documentation and preflight."`
	Gateway     string `yaml:"gateway,omitempty" json:"gateway,omitempty" desc:"Gateway of the plane, if it has one."`
	MTU         int    `yaml:"mtu,omitempty" json:"mtu,omitempty" desc:"MTU expected on the plane's NICs."`
	Description string `yaml:"description,omitempty" json:"description,omitempty" desc:"Free text."`
}

// Role is what a host does in the cluster.
type Role string

// Host roles.
const (
	RoleControlPlane Role = "control-plane"
	RoleEtcd         Role = "etcd"
	RoleWorker       Role = "worker"
	RoleRegistry     Role = "registry"
	RoleStorage      Role = "storage"
)

// AllRoles lists the roles a host may carry.
var AllRoles = []Role{RoleControlPlane, RoleEtcd, RoleWorker, RoleRegistry, RoleStorage}

// Host is one machine.
type Host struct {
	Name    string            `yaml:"name" json:"name" required:"true" desc:"Host name, also the Kubernetes node name (RFC 1123 label)."`
	Address string            `yaml:"address" json:"address" required:"true" desc:"Address berth dials over SSH; normally the management NIC's address."`
	Roles   []Role            `yaml:"roles" json:"roles" required:"true" enum:"control-plane,etcd,worker,registry,storage" desc:"What the host does. Control planes (with stacked etcd) and workers are Kubernetes nodes; registry and storage hosts are not."`
	NICs    NICs              `yaml:"nics" json:"nics" required:"true" desc:"The host's NIC on each plane its roles use: nodes on every plane node traffic uses, registry and storage hosts on management and storage."`
	Labels  map[string]string `yaml:"labels,omitempty" json:"labels,omitempty" desc:"Kubernetes node labels."`
	Taints  []string          `yaml:"taints,omitempty" json:"taints,omitempty" desc:"Kubernetes node taints, key[=value]:Effect."`
	SSH     *HostSSH          `yaml:"ssh,omitempty" json:"ssh,omitempty" desc:"Per-host SSH overrides."`
}

// NICs holds one NIC per plane.
type NICs struct {
	Management *NIC `yaml:"management,omitempty" json:"management,omitempty" desc:"NIC on the management plane."`
	Control    *NIC `yaml:"control,omitempty" json:"control,omitempty" desc:"NIC on the control plane."`
	Storage    *NIC `yaml:"storage,omitempty" json:"storage,omitempty" desc:"NIC on the storage plane."`
	Business   *NIC `yaml:"business,omitempty" json:"business,omitempty" desc:"NIC on the business plane."`
}

// NIC is a host's interface on one plane.
type NIC struct {
	Interface string `yaml:"interface" json:"interface" required:"true" desc:"Interface name on the host (eth1, bond0.200)."`
	Address   string `yaml:"address" json:"address" required:"true" desc:"IPv4 address of the interface, inside the plane's CIDR."`
}

// HostSSH overrides ssh settings for one host.
type HostSSH struct {
	User             string    `yaml:"user,omitempty" json:"user,omitempty" desc:"Login user for this host."`
	Port             int       `yaml:"port,omitempty" json:"port,omitempty" desc:"SSH port for this host."`
	IdentityFiles    []string  `yaml:"identityFiles,omitempty" json:"identityFiles,omitempty" desc:"Private key files for this host."`
	PasswordFrom     SecretRef `yaml:"passwordFrom,omitempty" json:"passwordFrom,omitempty" desc:"Password for this host by reference."`
	HostKeys         []string  `yaml:"hostKeys,omitempty" json:"hostKeys,omitempty" desc:"Pinned SHA256 host-key fingerprints; when set, only these keys are accepted."`
	Sudo             *bool     `yaml:"sudo,omitempty" json:"sudo,omitempty" desc:"Use sudo on this host."`
	SudoPasswordFrom SecretRef `yaml:"sudoPasswordFrom,omitempty" json:"sudoPasswordFrom,omitempty" desc:"Password sudo asks for on this host, by reference."`
	Bastion          *Bastion  `yaml:"bastion,omitempty" json:"bastion,omitempty" desc:"Jump host for this host, instead of ssh.bastion."`
}

// ControlPlane describes the HA endpoint of the Kubernetes API.
type ControlPlane struct {
	VIP          string       `yaml:"vip,omitempty" json:"vip,omitempty" desc:"Virtual IP clients reach the API server on. Required with the keepalived-haproxy load balancer."`
	VIPPlane     PlaneName    `yaml:"vipPlane,omitempty" json:"vipPlane,omitempty" enum:"management,control,storage,business" desc:"Plane the VIP lives on; defaults to control (management when control is not defined)."`
	Port         int          `yaml:"port,omitempty" json:"port,omitempty" default:"6443" desc:"Port of the API endpoint on the VIP."`
	CertSANs     []string     `yaml:"certSANs,omitempty" json:"certSANs,omitempty" desc:"More DNS names and IPv4 addresses for the API server's certificate (the bank's name for the API); the VIP and the control planes' names and addresses are always in it."`
	LoadBalancer LoadBalancer `yaml:"loadBalancer,omitempty" json:"loadBalancer,omitempty" desc:"What holds the VIP and balances to the API servers."`
}

// LoadBalancer types.
const (
	LBKeepalivedHAProxy = "keepalived-haproxy"
	LBExternal          = "external"
)

// LoadBalancer configures the API load balancer.
type LoadBalancer struct {
	Type            string `yaml:"type,omitempty" json:"type,omitempty" enum:"keepalived-haproxy,external" default:"keepalived-haproxy" desc:"keepalived (unicast VRRP) and haproxy on every control plane, or a load balancer the bank runs."`
	Endpoint        string `yaml:"endpoint,omitempty" json:"endpoint,omitempty" desc:"host:port of an external load balancer (type external only)."`
	VirtualRouterID int    `yaml:"virtualRouterID,omitempty" json:"virtualRouterID,omitempty" default:"51" desc:"VRRP router ID (1-255), unique on the VIP's plane."`
	APIServerPort   int    `yaml:"apiServerPort,omitempty" json:"apiServerPort,omitempty" default:"6444" desc:"Port each API server listens on behind haproxy (must differ from port)."`
}

// Kubernetes holds cluster-wide Kubernetes settings.
type Kubernetes struct {
	PodCIDR       string            `yaml:"podCIDR,omitempty" json:"podCIDR,omitempty" default:"10.244.0.0/16" desc:"Pod network; must overlap neither the service network nor any plane."`
	ServiceCIDR   string            `yaml:"serviceCIDR,omitempty" json:"serviceCIDR,omitempty" default:"10.96.0.0/16" desc:"Service network; must overlap neither the pod network nor any plane."`
	ClusterDomain string            `yaml:"clusterDomain,omitempty" json:"clusterDomain,omitempty" default:"cluster.local" desc:"DNS domain of the cluster."`
	CNI           string            `yaml:"cni,omitempty" json:"cni,omitempty" enum:"flannel" default:"flannel" desc:"Pod network plugin, shipped in the bundle."`
	PodPlane      PlaneName         `yaml:"podPlane,omitempty" json:"podPlane,omitempty" enum:"management,control,storage,business" desc:"Plane that carries pod-to-pod traffic; defaults to business, else control, else management."`
	ProxyMode     string            `yaml:"proxyMode,omitempty" json:"proxyMode,omitempty" enum:"iptables,nftables" default:"iptables" desc:"kube-proxy mode."`
	Kubelet       Kubelet           `yaml:"kubelet,omitempty" json:"kubelet,omitempty" desc:"Extra kubelet settings."`
	FeatureGates  map[string]bool   `yaml:"featureGates,omitempty" json:"featureGates,omitempty" desc:"Feature gates for every component."`
	APIServerArgs map[string]string `yaml:"apiServerArgs,omitempty" json:"apiServerArgs,omitempty" desc:"Extra kube-apiserver flags (name without dashes: value)."`
}

// Kubelet holds kubelet extras.
type Kubelet struct {
	MaxPods        int               `yaml:"maxPods,omitempty" json:"maxPods,omitempty" desc:"Pods per node."`
	SystemReserved map[string]string `yaml:"systemReserved,omitempty" json:"systemReserved,omitempty" desc:"Resources kept for the OS (cpu, memory, ephemeral-storage)."`
	KubeReserved   map[string]string `yaml:"kubeReserved,omitempty" json:"kubeReserved,omitempty" desc:"Resources kept for Kubernetes daemons."`
	ExtraArgs      map[string]string `yaml:"extraArgs,omitempty" json:"extraArgs,omitempty" desc:"Extra kubelet flags (name without dashes: value)."`
}

// DNS variants.
const (
	DNSManagement = "management"
	DNSUser       = "user"
)

// DNS configures cluster DNS.
type DNS struct {
	Variant       string       `yaml:"variant,omitempty" json:"variant,omitempty" enum:"management,user" default:"management" desc:"management: dnsmasq runs in the DNS pod; user: dnsmasq runs on the host as a service."`
	Hosts         []string     `yaml:"hosts,omitempty" json:"hosts,omitempty" desc:"Hosts that serve DNS (host network, port 53); defaults to the control planes."`
	Upstreams     []string     `yaml:"upstreams,omitempty" json:"upstreams,omitempty" desc:"The bank's resolvers for every name outside the cluster domain (IPv4, optionally #port)."`
	Backend       string       `yaml:"backend,omitempty" json:"backend,omitempty" enum:"coredns,kube-dns" default:"coredns" desc:"Server for the cluster domain behind dnsmasq (port 10053)."`
	CacheSize     *int         `yaml:"cacheSize,omitempty" json:"cacheSize,omitempty" default:"1000" desc:"dnsmasq cache entries; 0 turns the cache off."`
	Forward       []DNSForward `yaml:"forward,omitempty" json:"forward,omitempty" desc:"Domains answered by resolvers of their own (the bank's internal zones) instead of the upstreams."`
	SearchDomains []string     `yaml:"searchDomains,omitempty" json:"searchDomains,omitempty" desc:"Search domains every pod gets after the cluster's own (written to the kubelet's resolv.conf)."`
}

// DNSForward sends the names of one domain to its own resolvers.
type DNSForward struct {
	Domain  string   `yaml:"domain" json:"domain" required:"true" desc:"Domain whose names (and those of its subdomains) go to servers, e.g. corp.bank.internal."`
	Servers []string `yaml:"servers" json:"servers" required:"true" desc:"Resolvers of the domain (IPv4, optionally #port)."`
}

// Registry roles and engines.
const (
	RegistrySystem       = "system"
	RegistryUser         = "user"
	EngineDistribution   = "distribution"
	EngineHarbor         = "harbor"
	defaultRegistryPort  = 5000
	defaultRegistryStore = "/var/lib/berth/registry"
	defaultLocalPath     = "/var/lib/local-volumes"
)

// Registry is an image registry bound to one plane.
type Registry struct {
	Name            string    `yaml:"name" json:"name" required:"true" desc:"Registry name, unique in the inventory."`
	Role            string    `yaml:"role" json:"role" required:"true" enum:"system,user" desc:"system serves platform images; user serves application images."`
	Hosts           []string  `yaml:"hosts" json:"hosts" required:"true" desc:"Hosts that run it; each must carry the registry role."`
	Plane           PlaneName `yaml:"plane,omitempty" json:"plane,omitempty" enum:"management,control,storage,business" desc:"Plane it listens on; defaults to storage (else management)."`
	Port            int       `yaml:"port,omitempty" json:"port,omitempty" default:"5000" desc:"Listening port, where every client pulls (read-only, no credentials)."`
	PushPort        int       `yaml:"pushPort,omitempty" json:"pushPort,omitempty" desc:"User registry: the port, on the same address, where pushes go with credentials; defaults to port + 1."`
	VIP             string    `yaml:"vip,omitempty" json:"vip,omitempty" desc:"Virtual IP in front of the registry hosts, on its plane: keepalived on the registry's hosts holds it on one whose registry answers."`
	VirtualRouterID int       `yaml:"virtualRouterID,omitempty" json:"virtualRouterID,omitempty" desc:"VRRP router ID (1-255) of the VIP, unique on its plane; defaults to 52 plus the registry's place in this list."`
	Engine          string    `yaml:"engine,omitempty" json:"engine,omitempty" enum:"distribution,harbor" default:"distribution" desc:"Registry software."`
	StoragePath     string    `yaml:"storagePath,omitempty" json:"storagePath,omitempty" default:"/var/lib/berth/registry" desc:"Where image data is kept on the hosts."`
	Mirrors         []string  `yaml:"mirrors,omitempty" json:"mirrors,omitempty" desc:"Upstream registry names (registry.k8s.io, docker.io) containerd resolves through this registry."`
}

// Storage configures persistent storage.
type Storage struct {
	DefaultClass string     `yaml:"defaultClass,omitempty" json:"defaultClass,omitempty" desc:"Name of the default StorageClass; local-path when the inventory names none."`
	LocalPath    *LocalPath `yaml:"localPath,omitempty" json:"localPath,omitempty" desc:"The local-path class that every cluster gets: each volume a directory on the disk of its pod's node."`
	Ceph         *Ceph      `yaml:"ceph,omitempty" json:"ceph,omitempty" desc:"An existing Ceph cluster (RBD)."`
	Trident      *Trident   `yaml:"trident,omitempty" json:"trident,omitempty" desc:"NetApp storage through Trident."`
}

// LocalPathClass is the name of the StorageClass of node-local volumes.
const LocalPathClass = "local-path"

// LocalPath configures the node-local volumes of the local-path class (local-path-provisioner, from the bundle).
type LocalPath struct {
	Enabled *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty" default:"true" desc:"Run the local-path provisioner and its StorageClass."`
	Path    string `yaml:"path,omitempty" json:"path,omitempty" default:"/var/lib/local-volumes" desc:"Directory on every node where its volumes live (an absolute path; a disk of its own is best). berth reset removes it."`
}

// Ceph points at an existing Ceph cluster.
type Ceph struct {
	ClusterID    string    `yaml:"clusterID" json:"clusterID" required:"true" desc:"Ceph fsid."`
	Monitors     []string  `yaml:"monitors" json:"monitors" required:"true" desc:"Monitor addresses (host:port)."`
	Pool         string    `yaml:"pool" json:"pool" required:"true" desc:"RBD pool."`
	User         string    `yaml:"user,omitempty" json:"user,omitempty" default:"kubernetes" desc:"Ceph client user."`
	KeyFrom      SecretRef `yaml:"keyFrom" json:"keyFrom" required:"true" desc:"The user's key by reference (env:VAR or file:PATH)."`
	StorageClass string    `yaml:"storageClass,omitempty" json:"storageClass,omitempty" default:"ceph-rbd" desc:"Name of the StorageClass berth creates."`
}

// Trident configures NetApp Trident.
type Trident struct {
	Namespace string           `yaml:"namespace,omitempty" json:"namespace,omitempty" default:"trident" desc:"Namespace Trident runs in."`
	Backends  []TridentBackend `yaml:"backends" json:"backends" required:"true" desc:"Storage back ends."`
}

// TridentBackend is one ONTAP back end.
type TridentBackend struct {
	Name            string    `yaml:"name" json:"name" required:"true" desc:"Back-end name."`
	Driver          string    `yaml:"driver" json:"driver" required:"true" enum:"ontap-nas,ontap-nas-economy,ontap-san" desc:"Trident driver."`
	ManagementLIF   string    `yaml:"managementLIF" json:"managementLIF" required:"true" desc:"Management LIF address."`
	DataLIF         string    `yaml:"dataLIF,omitempty" json:"dataLIF,omitempty" desc:"Data LIF address (on the storage plane)."`
	SVM             string    `yaml:"svm" json:"svm" required:"true" desc:"Storage virtual machine."`
	CredentialsFrom SecretRef `yaml:"credentialsFrom" json:"credentialsFrom" required:"true" desc:"user:password by reference (env:VAR or file:PATH)."`
	StorageClass    string    `yaml:"storageClass,omitempty" json:"storageClass,omitempty" desc:"StorageClass for this back end; defaults to its name."`
}

// Tenant is a tenant of the platform.
type Tenant struct {
	Name             string         `yaml:"name" json:"name" required:"true" desc:"Tenant name (RFC 1123 label)."`
	Description      string         `yaml:"description,omitempty" json:"description,omitempty" desc:"Free text."`
	Quota            Quota          `yaml:"quota,omitempty" json:"quota,omitempty" desc:"Resources the tenant may use in this cluster."`
	Groups           []Group        `yaml:"groups,omitempty" json:"groups,omitempty" desc:"Groups of users and what they may do."`
	Network          *TenantNetwork `yaml:"network,omitempty" json:"network,omitempty" desc:"Tenant networks (OpenStack mapping)."`
	OpenStackProject string         `yaml:"openstackProject,omitempty" json:"openstackProject,omitempty" desc:"OpenStack project mapped 1:1 to this tenant."`
}

// Quota limits a tenant.
type Quota struct {
	CPU     string `yaml:"cpu,omitempty" json:"cpu,omitempty" desc:"CPU limit (Kubernetes quantity)."`
	Memory  string `yaml:"memory,omitempty" json:"memory,omitempty" desc:"Memory limit (Kubernetes quantity)."`
	Storage string `yaml:"storage,omitempty" json:"storage,omitempty" desc:"Total requested storage (Kubernetes quantity)."`
	Pods    int    `yaml:"pods,omitempty" json:"pods,omitempty" desc:"Maximum number of pods."`
}

// Group is a set of users sharing a role in a tenant.
type Group struct {
	Name    string   `yaml:"name" json:"name" required:"true" desc:"Group name."`
	Role    string   `yaml:"role" json:"role" required:"true" enum:"admin,sre,developer,viewer" desc:"What members may do in the tenant."`
	Members []string `yaml:"members,omitempty" json:"members,omitempty" desc:"User names."`
}

// TenantNetwork holds a tenant's own pod and service networks.
type TenantNetwork struct {
	PodCIDR     string `yaml:"podCIDR,omitempty" json:"podCIDR,omitempty" desc:"Tenant pod subnet."`
	ServiceCIDR string `yaml:"serviceCIDR,omitempty" json:"serviceCIDR,omitempty" desc:"Tenant service subnet."`
}

// OpenStack is the cloud berth maps tenants onto.
type OpenStack struct {
	AuthURL         string    `yaml:"authURL" json:"authURL" required:"true" desc:"Keystone URL."`
	Region          string    `yaml:"region,omitempty" json:"region,omitempty" desc:"Region name."`
	Domain          string    `yaml:"domain,omitempty" json:"domain,omitempty" default:"Default" desc:"Keystone domain."`
	Project         string    `yaml:"project,omitempty" json:"project,omitempty" desc:"Project berth's service account works in."`
	UsernameFrom    SecretRef `yaml:"usernameFrom,omitempty" json:"usernameFrom,omitempty" desc:"User name by reference."`
	PasswordFrom    SecretRef `yaml:"passwordFrom,omitempty" json:"passwordFrom,omitempty" desc:"Password by reference."`
	AppCredIDFrom   SecretRef `yaml:"applicationCredentialIDFrom,omitempty" json:"applicationCredentialIDFrom,omitempty" desc:"Application credential ID by reference (instead of user and password)."`
	AppCredSecretFr SecretRef `yaml:"applicationCredentialSecretFrom,omitempty" json:"applicationCredentialSecretFrom,omitempty" desc:"Application credential secret by reference."`
	CACertFile      string    `yaml:"caCertFile,omitempty" json:"caCertFile,omitempty" desc:"CA bundle for the Keystone endpoint."`
}
