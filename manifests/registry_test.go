package manifests

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRegistryConfig(t *testing.T) {
	l := RegistryListener{Name: "user", Addr: "10.0.4.31:5000", Root: "/var/lib/berth/registry/user", CertFile: "/etc/berth/registry/user/tls.crt",
		KeyFile: "/etc/berth/registry/user/tls.key", HTPasswd: "/etc/berth/registry/user/htpasswd", Secret: strings.Repeat("a1", 16)}
	out, err := RegistryConfig(l)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Storage struct {
			Filesystem  struct{ RootDirectory string }
			Maintenance struct{ ReadOnly struct{ Enabled bool } }
		}
		HTTP struct {
			Addr, Secret string
			TLS          struct{ Certificate, Key, MinimumTLS string }
		}
		Auth map[string]struct{ Realm, Path string }
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cfg.HTTP.Addr != l.Addr || cfg.HTTP.TLS.Certificate != l.CertFile || cfg.HTTP.TLS.Key != l.KeyFile || cfg.HTTP.TLS.MinimumTLS != "tls1.2" ||
		cfg.Storage.Filesystem.RootDirectory != l.Root || cfg.Storage.Maintenance.ReadOnly.Enabled || cfg.Auth["htpasswd"].Path != l.HTPasswd ||
		cfg.HTTP.Secret != l.Secret {
		t.Errorf("rendered config does not say what was asked:\n%s", out)
	}
	l.ReadOnly, l.HTPasswd = true, ""
	out, _ = RegistryConfig(l)
	cfg.Auth = nil
	if err := yaml.Unmarshal(out, &cfg); err != nil || !cfg.Storage.Maintenance.ReadOnly.Enabled || cfg.Auth != nil {
		t.Errorf("read-only, no auth: %v\n%s", err, out)
	}

	for name, bad := range map[string]func(*RegistryListener){
		"no address":       func(l *RegistryListener) { l.Addr = ":5000" },
		"wildcard address": func(l *RegistryListener) { l.Addr = "0.0.0.0:5000" },
		"relative root":    func(l *RegistryListener) { l.Root = "data" },
		"short secret":     func(l *RegistryListener) { l.Secret = "abc" },
		"bad name":         func(l *RegistryListener) { l.Name = "User_1" },
		"relative htpass":  func(l *RegistryListener) { l.HTPasswd = "htpasswd" },
	} {
		c := l
		bad(&c)
		if _, err := RegistryConfig(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	unit, err := RegistryUnit(l, "/usr/local/bin/berth-registry", "/etc/berth/registry/user/config.yml")
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/local/bin/berth-registry serve /etc/berth/registry/user/config.yml") ||
		!strings.Contains(string(unit), "ReadWritePaths="+l.Root) {
		t.Errorf("unit: %v\n%s", err, unit)
	}
	if _, err := RegistryUnit(l, "/usr/local/bin/berth registry", "/etc/c.yml"); err == nil {
		t.Error("a unit path with a space was accepted")
	}
}

// TestRegistryNotifications: a push listener reports its pushes to the sync service on loopback, and nowhere else;
// pulls are not reported.
func TestRegistryNotifications(t *testing.T) {
	l := RegistryListener{Name: "user", Addr: "10.0.4.31:5001", Root: "/var/lib/berth/registry/user", CertFile: "/etc/berth/registry/user/tls.crt",
		KeyFile: "/etc/berth/registry/user/tls.key", Secret: strings.Repeat("a1", 16), Notify: "http://127.0.2.2:5001/events"}
	out, err := RegistryConfig(l)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Notifications struct {
			Endpoints []struct {
				URL    string
				Ignore struct{ Actions []string }
			}
		}
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if e := cfg.Notifications.Endpoints; len(e) != 1 || e[0].URL != l.Notify || !slices.Contains(e[0].Ignore.Actions, "pull") {
		t.Errorf("notifications: %+v\n%s", e, out)
	}
	for _, bad := range []string{"http://10.0.4.31:9/events", "https://127.0.0.1:9/", "127.0.0.1:9", "http://reg1:9/"} {
		l.Notify = bad
		if _, err := RegistryConfig(l); err == nil {
			t.Errorf("notification URL %s accepted", bad)
		}
	}
	l.Notify = ""
	if out, _ := RegistryConfig(l); strings.Contains(string(out), "notifications") {
		t.Errorf("a listener without Notify reports pushes:\n%s", out)
	}
	unit, err := RegistrySyncUnit("user", "/usr/local/lib/berth/berth", "/etc/berth/registry/user/sync.json", "berth-registry-user-push.service")
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/local/lib/berth/berth registry sync-service --config /etc/berth/registry/user/sync.json") ||
		!strings.Contains(string(unit), "After=network-online.target berth-registry-user-push.service") {
		t.Errorf("sync unit: %v\n%s", err, unit)
	}
	if _, err := RegistrySyncUnit("User", "/b", "/c", "x.service"); err == nil {
		t.Error("a registry name that is no DNS label was accepted")
	}
}

// TestContainerdHostsTOML: the mirror of an upstream lists each registry address in order, under the upstream's
// path, trusting the registry CA; an upstream with a port keeps it as the registry stores it (":" as "_"); bad
// input is refused.
func TestContainerdHostsTOML(t *testing.T) {
	m := ContainerdMirror{Upstream: "registry.k8s.io", Registry: "system", Hosts: []string{"10.0.3.100:5000", "10.0.3.31:5000", "10.0.3.32:5000"},
		CAFile: "/etc/containerd/berth-registry-ca.crt"}
	out, err := ContainerdHostsTOML(m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	var last int
	for _, h := range m.Hosts {
		i := strings.Index(s, `[host."https://`+h+`/v2/registry.k8s.io"]`)
		if i < last {
			t.Errorf("%s missing or out of order:\n%s", h, s)
		}
		last = i
	}
	if strings.Count(s, `ca = "/etc/containerd/berth-registry-ca.crt"`) != 3 || strings.Count(s, "override_path = true") != 3 ||
		strings.Contains(s, `"push"`) {
		t.Errorf("hosts.toml:\n%s", s)
	}
	if m.Path() != "/etc/containerd/certs.d/registry.k8s.io/hosts.toml" {
		t.Errorf("path %s", m.Path())
	}
	m.Upstream = "registry.example:8443"
	if out, err := ContainerdHostsTOML(m); err != nil || !strings.Contains(string(out), "/v2/registry.example_8443\"]") {
		t.Errorf("upstream with a port: %v\n%s", err, out)
	}
	for _, bad := range []ContainerdMirror{
		{Upstream: "Registry.K8s.io", Hosts: m.Hosts, CAFile: m.CAFile},
		{Upstream: "docker.io\n[host]", Hosts: m.Hosts, CAFile: m.CAFile},
		{Upstream: "docker.io", CAFile: m.CAFile},
		{Upstream: "docker.io", Hosts: []string{"reg:5000"}, CAFile: m.CAFile},
		{Upstream: "docker.io", Hosts: m.Hosts, CAFile: "ca.crt"},
	} {
		if _, err := ContainerdHostsTOML(bad); err == nil {
			t.Errorf("%+v was rendered", bad)
		}
	}
}
