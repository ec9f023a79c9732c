package manifests

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// RegistryListener is one process of the distribution registry on a registry host: a registry's storage served on
// one address. A registry host runs, per registry, the listener on the registry's plane and, for the System
// registry, a second one on loopback that berth pushes through (SSH): the plane's listener is read-only, so that no
// client but berth can write to the System registry.
type RegistryListener struct {
	Name     string // the inventory's registry name ("system"); the unit is berth-registry-<Name>[-push]
	Addr     string // "address:port" it listens on, and nothing else
	Root     string // the registry's storage directory, shared by its listeners on this host
	CertFile string // TLS certificate (from the registry CA) and key on the host
	KeyFile  string
	ReadOnly bool   // refuse every push
	HTPasswd string // file of users allowed in (pushes and pulls); "" lets anyone in
	Secret   string // signs upload state; 32+ random characters, the same for the listeners of one registry
	// Notify is where the listener reports each push (the registry's notifications), http:// on loopback: the User
	// registry's sync service on the same host. "" reports nothing.
	Notify string
}

var secretRe = regexp.MustCompile(`^[A-Za-z0-9]{32,}$`)

// RegistryConfig renders the registry's configuration (config.yml; 0600 on the host: it holds the secret).
func RegistryConfig(l RegistryListener) ([]byte, error) {
	if !dnsLabel(l.Name) {
		return nil, fmt.Errorf("registry name %q is not a DNS label", l.Name)
	}
	if ap, err := netip.ParseAddrPort(l.Addr); err != nil {
		return nil, fmt.Errorf("registry %s: listen address: %w", l.Name, err)
	} else if ap.Addr().IsUnspecified() {
		return nil, fmt.Errorf("registry %s: listen address %s is every address of the host: give its plane's address", l.Name, l.Addr)
	}
	for what, p := range map[string]string{"storage": l.Root, "certificate": l.CertFile, "key": l.KeyFile} {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("registry %s: %s path %q is not absolute", l.Name, what, p)
		}
	}
	if l.HTPasswd != "" && !path.IsAbs(l.HTPasswd) {
		return nil, fmt.Errorf("registry %s: htpasswd path %q is not absolute", l.Name, l.HTPasswd)
	}
	if l.Notify != "" {
		u, err := url.Parse(l.Notify)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("registry %s: notification URL %q: want http://ADDRESS:PORT/PATH on loopback", l.Name, l.Notify)
		}
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("registry %s: notification URL %q is not on loopback: pushes are reported on the host only", l.Name, l.Notify)
		}
	}
	if !secretRe.MatchString(l.Secret) {
		return nil, fmt.Errorf("registry %s: the upload secret must be 32 or more letters and digits", l.Name)
	}
	return render("registry.yml", l)
}

var labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func dnsLabel(s string) bool { return labelRe.MatchString(s) }

// RegistryUnit renders the systemd unit that runs one listener: binary is the registry's path on the host, config
// the path of its RegistryConfig.
func RegistryUnit(l RegistryListener, binary, config string) ([]byte, error) {
	for _, p := range []string{binary, config, l.Root} {
		if !path.IsAbs(p) || strings.ContainsAny(p, " \t\n\"'\\%$") {
			return nil, fmt.Errorf("registry %s: unit path %q must be absolute, without spaces, quotes or %%", l.Name, p)
		}
	}
	return render("berth-registry.service", struct {
		Listener       RegistryListener
		Binary, Config string
	}{l, binary, config})
}

// RegistrySyncUnit renders the systemd unit of a User registry's sync service on one of its hosts: binary is berth
// on the host, config its configuration (0600), after the registry's push listener pushUnit.
func RegistrySyncUnit(registry, binary, config, pushUnit string) ([]byte, error) {
	if !dnsLabel(registry) {
		return nil, fmt.Errorf("registry name %q is not a DNS label", registry)
	}
	for _, p := range []string{binary, config} {
		if !path.IsAbs(p) || strings.ContainsAny(p, " \t\n\"'\\%$") {
			return nil, fmt.Errorf("registry %s: unit path %q must be absolute, without spaces, quotes or %%", registry, p)
		}
	}
	return render("berth-registry-sync.service", struct{ Registry, Binary, Config, PushUnit string }{registry, binary, config, pushUnit})
}

// RegistryVIPUnit renders the systemd unit of the keepalived that holds a registry's VIP on one of its hosts: config
// is its keepalived configuration, after the registry's plane listener registryUnit.
func RegistryVIPUnit(registry, vip, config, registryUnit string) ([]byte, error) {
	if !dnsLabel(registry) {
		return nil, fmt.Errorf("registry name %q is not a DNS label", registry)
	}
	if _, err := netip.ParseAddr(vip); err != nil {
		return nil, fmt.Errorf("registry %s: VIP: %w", registry, err)
	}
	if !path.IsAbs(config) || strings.ContainsAny(config, " \t\n\"'\\%$") {
		return nil, fmt.Errorf("registry %s: unit path %q must be absolute, without spaces, quotes or %%", registry, config)
	}
	return render("berth-registry-vip.service", struct{ Registry, VIP, Config, RegistryUnit string }{registry, vip, config, registryUnit})
}

// ContainerdMirror is what a node's containerd reads for one upstream registry (registry.k8s.io, docker.io, ...):
// pulls of its images go to a berth registry, the registry's VIP first and then each replica, every one trusted
// through the registry CA. The registry keeps the upstream's images under the upstream's name (airgap.MirrorRef),
// so each mirror's path is /v2/<upstream>.
type ContainerdMirror struct {
	Upstream string   // the registry host the images are named after: "registry.k8s.io", "docker.io", "reg.example:8443"
	Registry string   // the berth registry's name, for people
	Hosts    []string // "address:port" of the VIP (when there is one) and of each replica, in the order tried
	CAFile   string   // the registry CA on the node
}

var upstreamRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

// ContainerdHostsDir is where containerd looks for a registry's hosts.toml (its config_path).
const ContainerdHostsDir = "/etc/containerd/certs.d"

// Path is the mirror's hosts.toml on the node.
func (m ContainerdMirror) Path() string {
	return path.Join(ContainerdHostsDir, m.Upstream, "hosts.toml")
}

// ContainerdHostsTOML renders the upstream's hosts.toml. containerd reads it at every pull; nothing restarts.
func ContainerdHostsTOML(m ContainerdMirror) ([]byte, error) {
	if !upstreamRe.MatchString(m.Upstream) {
		return nil, fmt.Errorf("upstream registry %q is not a host name (with an optional port)", m.Upstream)
	}
	if len(m.Hosts) == 0 {
		return nil, fmt.Errorf("mirror of %s: no registry address", m.Upstream)
	}
	for _, h := range m.Hosts {
		if _, err := netip.ParseAddrPort(h); err != nil {
			return nil, fmt.Errorf("mirror of %s: registry address %q: %w", m.Upstream, h, err)
		}
	}
	if !path.IsAbs(m.CAFile) {
		return nil, fmt.Errorf("mirror of %s: CA path %q is not absolute", m.Upstream, m.CAFile)
	}
	return render("hosts.toml", struct {
		ContainerdMirror
		Repo string
	}{m, strings.ReplaceAll(m.Upstream, ":", "_")})
}
