package manifests

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
)

// Containerd is the input of containerd's configuration.
type Containerd struct {
	SandboxImage        string // the bundle's pause image, as tagged in containerd
	SystemdCgroup       bool   // true when the kubelet uses the systemd cgroup driver
	RestrictOOMScoreAdj bool   // true on hosts without CAP_SYS_RESOURCE (detected, not assumed)
}

// ContainerdConfig renders /etc/containerd/config.toml.
func ContainerdConfig(c Containerd) ([]byte, error) {
	if c.SandboxImage == "" {
		return nil, errors.New("containerd: sandbox image is empty")
	}
	return render("containerd.toml", c)
}

// KubeletUnit renders the kubelet's systemd unit and the drop-in that lets kubeadm drive it. binDir is where the
// kubelet binary from the bundle was installed.
func KubeletUnit(binDir string) (unit, dropIn []byte, err error) {
	data := struct{ BinDir string }{binDir}
	if unit, err = render("kubelet.service", data); err != nil {
		return nil, nil, err
	}
	dropIn, err = render("10-kubeadm.conf", data)
	return unit, dropIn, err
}

// Keepalived is the input of one keepalived configuration holding one VIP: the API's on a control plane, or a
// registry's on a registry host.
type Keepalived struct {
	For         string   // what the VIP is for (the comment); "" is the Kubernetes API VIP
	Name        string   // names the VRRP instance berth_<Name>; "" is api
	Check       string   // names the health script berth_<Check>; "" is haproxy
	NodeName    string   // this host
	Plane       string   // plane the VIP lives on (for the comment)
	Interface   string   // this host's NIC on that plane
	SourceIP    string   // this host's address on that plane
	Peers       []string // the other control planes' addresses on that plane
	VIP         string   // the virtual IP
	PrefixLen   int      // prefix length of the plane
	RouterID    int      // VRRP virtual router ID
	Priority    int      // higher wins the first election
	CheckScript string   // path of the health script
}

// KeepalivedConfig renders /etc/keepalived/keepalived.conf.
func KeepalivedConfig(k Keepalived) ([]byte, error) {
	if _, err := netip.ParseAddr(k.VIP); err != nil {
		return nil, fmt.Errorf("keepalived: VIP: %w", err)
	}
	if _, err := netip.ParseAddr(k.SourceIP); err != nil {
		return nil, fmt.Errorf("keepalived: source address: %w", err)
	}
	if k.Interface == "" || k.RouterID < 1 || k.RouterID > 255 || k.Priority < 1 || k.Priority > 254 || k.PrefixLen < 1 || k.PrefixLen > 32 {
		return nil, fmt.Errorf("keepalived: incomplete input %+v", k)
	}
	if k.For == "" {
		k.For = "the Kubernetes API VIP"
	}
	if k.Name == "" {
		k.Name = "api"
	}
	if k.Check == "" {
		k.Check = "haproxy"
	}
	if !vrrpNameRe.MatchString(k.Name) || !vrrpNameRe.MatchString(k.Check) {
		return nil, fmt.Errorf("keepalived: instance %q and script %q must be letters, digits and _", k.Name, k.Check)
	}
	return render("keepalived.conf", k)
}

var vrrpNameRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`)

// KeepalivedCheck renders the health script keepalived runs on a control plane: haproxy must accept connections on
// port.
func KeepalivedCheck(port int) ([]byte, error) {
	return TCPCheck("haproxy", "127.0.0.1", port)
}

// TCPCheck renders a keepalived health script that succeeds when what (for the comment) accepts a TCP connection on
// addr:port.
func TCPCheck(what, addr string, port int) ([]byte, error) {
	if _, err := netip.ParseAddr(addr); err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("health script: %s:%d is no address and port", addr, port)
	}
	return render("keepalived-check.sh", struct {
		What, Addr string
		Port       int
	}{what, addr, port})
}

// Backend is one API server behind haproxy.
type Backend struct {
	Name    string // node name
	Address string // control-plane address
}

// HAProxy is the input of haproxy's configuration.
type HAProxy struct {
	VIP           string    // the API's VIP: haproxy listens there (held or not) and on loopback, nowhere else
	Port          int       // port haproxy listens on (the VIP's port)
	APIServerPort int       // port every API server listens on
	Backends      []Backend // every control plane
}

// HAProxyConfig renders /etc/haproxy/haproxy.cfg.
func HAProxyConfig(h HAProxy) ([]byte, error) {
	if h.Port == 0 || h.APIServerPort == 0 || h.Port == h.APIServerPort || len(h.Backends) == 0 {
		return nil, fmt.Errorf("haproxy: incomplete input %+v", h)
	}
	if a, err := netip.ParseAddr(h.VIP); err != nil || !a.Is4() {
		return nil, fmt.Errorf("haproxy: VIP %q is not an IPv4 address", h.VIP)
	}
	return render("haproxy.cfg", h)
}
