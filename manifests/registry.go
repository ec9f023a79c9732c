package manifests

import (
	"fmt"
	"net/netip"
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
