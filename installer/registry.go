package installer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/pki"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// Where a registry lives on its hosts.
const (
	registryBinary   = "/usr/local/bin/berth-registry"
	registryEtc      = "/etc/berth/registry"
	registryCAName   = "registry" // the registry CA's files in the state directory: registry-ca.crt, registry-ca.key
	registryStateDir = "registry" // <state>/registry/: each registry's secrets (0600)
)

// registryHosts returns the hosts that run a registry berth installs.
func (c *Cluster) registryHosts() map[string]bool {
	out := map[string]bool{}
	for _, r := range c.Inv.Registries {
		if r.Engine != inventory.EngineDistribution {
			continue
		}
		for _, h := range r.Hosts {
			out[h] = true
		}
	}
	return out
}

// registryInstance is one registry on one of its hosts.
type registryInstance struct {
	reg   *inventory.Registry
	index int // the registry's place in the inventory: it names its loopback address
	host  *inventory.Host
}

// registryInstances lists every registry berth installs on every one of its hosts, in inventory order.
func (c *Cluster) registryInstances() []registryInstance {
	var out []registryInstance
	for i := range c.Inv.Registries {
		r := &c.Inv.Registries[i]
		if r.Engine != inventory.EngineDistribution {
			continue
		}
		for _, name := range r.Hosts {
			if h := c.Inv.Host(name); h != nil {
				out = append(out, registryInstance{reg: r, index: i, host: h})
			}
		}
	}
	return out
}

func (ri registryInstance) String() string { return ri.reg.Name + " on " + ri.host.Name }

// dir holds the instance's configurations and TLS files.
func (ri registryInstance) dir() string { return path.Join(registryEtc, ri.reg.Name) }

// root is the registry's storage on the host, shared by its listeners.
func (ri registryInstance) root() string { return path.Join(ri.reg.StoragePath, ri.reg.Name) }

// planeAddr is where clients reach the instance: its host's address on the registry's plane.
func (ri registryInstance) planeAddr() string {
	return net.JoinHostPort(ri.host.AddressOn(ri.reg.Plane), strconv.Itoa(ri.reg.Port))
}

// pushAddr is where the registry takes pushes. The System registry's is a loopback address of its own
// (127.0.1.<index+1>), which only processes on the host reach, berth through its SSH connection; the User
// registry's is its plane address at pushPort, where a push needs the registry's credentials.
func (ri registryInstance) pushAddr() string {
	switch ri.reg.Role {
	case inventory.RegistrySystem:
		return net.JoinHostPort(registryLoopback(ri.index).String(), strconv.Itoa(ri.reg.Port))
	case inventory.RegistryUser:
		return net.JoinHostPort(ri.host.AddressOn(ri.reg.Plane), strconv.Itoa(ri.reg.PushPort))
	}
	return ""
}

func registryLoopback(index int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, 1, byte(index%250 + 1)})
}

// htpasswdPath is the User registry's credentials file on its hosts (bcrypt hashes only).
func (ri registryInstance) htpasswdPath() string { return path.Join(ri.dir(), "htpasswd") }

// registryListener is one process of an instance: a listener, with the suffix that names its unit and configuration.
type registryListener struct {
	manifests.RegistryListener
	suffix string // "" (the plane's), "push", "vip", "vip-push"
}

// listeners returns the instance's processes: the plane's listener, read-only and open to every client, and the
// push listener (pushAddr): for the System registry without credentials (only berth reaches it), for the User
// registry with them. With a VIP, the same two again on the VIP's address (the User registry's push listener at
// its pushPort; the System registry takes pushes on loopback only): they listen whether or not the host holds the
// VIP (net.ipv4.ip_nonlocal_bind), and answer once keepalived brings it. Push listeners of a User registry that
// syncs report each push to the sync service.
func (ri registryInstance) listeners(secret string) []registryListener {
	base := manifests.RegistryListener{Name: ri.reg.Name, Root: ri.root(), CertFile: path.Join(ri.dir(), "tls.crt"),
		KeyFile: path.Join(ri.dir(), "tls.key"), Secret: secret, ReadOnly: true}
	pull := func(addr, suffix string) registryListener {
		l := base
		l.Addr = addr
		return registryListener{l, suffix}
	}
	push := func(addr, suffix string) registryListener {
		l := base
		l.Addr, l.ReadOnly = addr, false
		if ri.reg.Role == inventory.RegistryUser {
			l.HTPasswd = ri.htpasswdPath()
			if ri.syncs() {
				l.Notify = "http://" + ri.syncAddr() + "/events"
			}
		}
		return registryListener{l, suffix}
	}
	out := []registryListener{pull(ri.planeAddr(), ""), push(ri.pushAddr(), "push")}
	if ri.reg.VIP != "" {
		out = append(out, pull(ri.vipAddr(), "vip"))
		if ri.reg.Role == inventory.RegistryUser {
			out = append(out, push(net.JoinHostPort(ri.reg.VIP, strconv.Itoa(ri.reg.PushPort)), "vip-push"))
		}
	}
	return out
}

// unitName names the systemd unit of the instance's listener with that suffix.
func (ri registryInstance) unitName(suffix string) string {
	if suffix == "" {
		return "berth-registry-" + ri.reg.Name + ".service"
	}
	return "berth-registry-" + ri.reg.Name + "-" + suffix + ".service"
}

// configPath is where the configuration of the listener with that suffix is written.
func (ri registryInstance) configPath(suffix string) string {
	if suffix == "" {
		return path.Join(ri.dir(), "config.yml")
	}
	return path.Join(ri.dir(), suffix+".yml")
}

// registryLeaf is what a registry's certificate names: its VIP, every replica's address on its plane and its
// loopback push address. Every replica gets a certificate for all of them, so that a client reaching any of them,
// through the VIP or not, checks the same names.
func registryLeaf(inv *inventory.Inventory, r *inventory.Registry, index int) (pki.Leaf, error) {
	l := pki.Leaf{Name: "berth registry " + r.Name}
	add := func(s, what string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("registry %s: %s %q is not an IP address", r.Name, what, s)
		}
		for _, have := range l.IPs {
			if have == a {
				return nil
			}
		}
		l.IPs = append(l.IPs, a)
		return nil
	}
	if r.VIP != "" {
		if err := add(r.VIP, "VIP"); err != nil {
			return l, err
		}
	}
	for _, name := range r.Hosts {
		h := inv.Host(name)
		if h == nil || h.AddressOn(r.Plane) == "" {
			return l, fmt.Errorf("registry %s: host %s has no NIC on plane %s (fix: add the NIC to the host in the inventory, or choose the registry's plane)", r.Name, name, r.Plane)
		}
		if err := add(h.AddressOn(r.Plane), "address of "+name); err != nil {
			return l, err
		}
	}
	if r.Role == inventory.RegistrySystem {
		l.IPs = append(l.IPs, registryLoopback(index))
	}
	return l, nil
}

// RegistryCA returns the cluster's registry CA, made on first use in the state directory (key 0600). Every node
// trusts it for the registries, and every registry's certificate comes from it.
func (c *Cluster) RegistryCA(now time.Time) (*pki.CA, error) {
	ca, created, err := pki.LoadOrCreateCA(c.StateDir, registryCAName, now)
	if err != nil {
		return nil, err
	}
	if created {
		c.Log.Info("made the registry CA", "cert", ca.CertPath)
	}
	return ca, nil
}

// registryCAExists reports whether the registry CA was made already.
func (c *Cluster) registryCAExists() bool {
	_, err := os.Stat(filepath.Join(c.StateDir, registryCAName+"-ca.crt"))
	return err == nil
}

// registrySecret returns the registry's upload secret (it signs the state of uploads in progress; the listeners of
// one registry share it), made on first use and kept in the state directory, 0600.
func (c *Cluster) registrySecret(name string, create bool) (string, error) {
	data, err := c.stateSecret(name+".secret", create, func() ([]byte, error) { return randomText(), nil })
	return string(data), err
}

// RegistryCredentials authenticate pushes to a User registry. They are made on first use and kept in the state
// directory (0600); the registry hosts get only their bcrypt hash. berth never prints the password: the operator
// reads it from CredentialsFile.
type RegistryCredentials struct {
	User            string
	Password        string
	CredentialsFile string
}

// registryPushUser is the name the User registry's push credentials carry.
const registryPushUser = "push"

// registryCredentials returns a User registry's push credentials and their htpasswd line, made on first use.
func (c *Cluster) registryCredentials(name string, create bool) (RegistryCredentials, []byte, error) {
	pw, err := c.stateSecret(name+".password", create, func() ([]byte, error) { return randomText(), nil })
	if err != nil || pw == nil {
		return RegistryCredentials{}, nil, err
	}
	cred := RegistryCredentials{User: registryPushUser, Password: string(pw), CredentialsFile: filepath.Join(c.StateDir, registryStateDir, name+".password")}
	// The hash is kept too: bcrypt salts every hash anew, and a file that changed at every run would restart the
	// registry at every run.
	line, err := c.stateSecret(name+".htpasswd", create, func() ([]byte, error) {
		h, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
		return []byte(registryPushUser + ":" + string(h) + "\n"), err
	})
	if err != nil {
		return cred, nil, err
	}
	return cred, line, nil
}

// stateSecret returns the content of <state>/registry/<file>, 0600, made with make when absent and create is set
// (nil when absent and not created). A file readable by others than its owner is refused.
func (c *Cluster) stateSecret(file string, create bool, make func() ([]byte, error)) ([]byte, error) {
	p := filepath.Join(c.StateDir, registryStateDir, file)
	data, err := os.ReadFile(p)
	switch {
	case err == nil:
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s is readable by others than its owner (mode %v): chmod 600 %s", p, fi.Mode().Perm(), p)
		}
		return data, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case !create:
		return nil, nil
	}
	if data, err = make(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	_, err = writePrivateFile(p, data)
	return data, err
}

// randomText returns 52 random characters of base32 (A-Z, 2-7): 256 bits.
func randomText() []byte { return []byte(rand.Text() + rand.Text()) }

// registryTransport reaches a registry instance's listeners from this machine through its host's SSH connection,
// trusting only the registry CA.
func (c *Cluster) registryTransport(host string, ca *pki.CA) (*http.Transport, error) {
	h, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		DialContext:         h.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}, nil
}

// registryReplica is the System registry instance's writable listener, as PushImages reaches it.
func (c *Cluster) registryReplica(ri registryInstance, ca *pki.CA) (airgap.Replica, error) {
	tr, err := c.registryTransport(ri.host.Name, ca)
	if err != nil {
		return airgap.Replica{}, err
	}
	return airgap.Replica{Name: ri.String(), Addr: ri.pushAddr(), Transport: tr}, nil
}

// registryAnswers is the check that a listener serves the registry API (GET /v2/ answers 200, or 401 where it
// asks for credentials) over TLS with the registry CA.
func registryAnswers(tr http.RoundTripper, addr string) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v2/", nil)
		if err != nil {
			return false, "", err
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
			return true, "answers", nil
		}
		return false, "GET /v2/ answered " + resp.Status, nil
	}
}
