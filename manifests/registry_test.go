package manifests

import (
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
