package airgap

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// SyncConfig is the configuration of a User registry's sync service on one of its hosts, written by berth install
// (0600: it holds the registry's push credentials).
type SyncConfig struct {
	Registry string `json:"registry"` // the inventory's name of the registry
	// Listen is where the service takes the local registry's notifications: a loopback host:port.
	Listen   string `json:"listen"`
	CAFile   string `json:"caFile"`   // the registry CA (PEM), the only one the service trusts
	Username string `json:"username"` // push credentials of the registry
	Password string `json:"password"`
	// Replicas are the push listeners of every instance of the registry, this host's included.
	Replicas []SyncReplica `json:"replicas"`
	Every    string        `json:"every"` // the reconcile period (Go duration), e.g. "30s"
}

// SyncReplica is one instance of the registry, as the sync service reaches it.
type SyncReplica struct {
	Name string `json:"name"` // for people: "user on reg1"
	Addr string `json:"addr"` // host:port of its push listener
}

// maxSyncConfig bounds the configuration file read.
const maxSyncConfig = 64 << 10

// LoadSyncConfig reads and checks a sync service's configuration. The file must be readable by its owner only.
func LoadSyncConfig(path string) (*SyncConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s holds credentials and is readable by others than its owner (mode %v): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSyncConfig+1))
	if err != nil {
		return nil, err
	}
	cfg, err := ParseSyncConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseSyncConfig decodes and checks a sync service's configuration: every field known, the listen address on
// loopback, at least two replicas with distinct addresses, a period of a second or more.
func ParseSyncConfig(data []byte) (*SyncConfig, error) {
	if len(data) > maxSyncConfig {
		return nil, fmt.Errorf("sync configuration larger than %d bytes", maxSyncConfig)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c SyncConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("sync configuration: %w", err)
	}
	var errs []error
	if c.Registry == "" {
		errs = append(errs, errors.New("registry: empty"))
	}
	if host, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		errs = append(errs, fmt.Errorf("listen %q: not a loopback address (only the local registry reports to the service)", c.Listen))
	}
	if !filepath.IsAbs(c.CAFile) {
		errs = append(errs, fmt.Errorf("caFile %q: not an absolute path", c.CAFile))
	}
	if c.Username == "" || c.Password == "" {
		errs = append(errs, errors.New("username and password: both needed to push to the replicas"))
	}
	if len(c.Replicas) < 2 {
		errs = append(errs, fmt.Errorf("replicas: %d; a registry with fewer than 2 has nothing to keep in step", len(c.Replicas)))
	}
	seen := map[string]bool{}
	for i, r := range c.Replicas {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			errs = append(errs, fmt.Errorf("replicas[%d] %q: %w", i, r.Addr, err))
		}
		if seen[r.Addr] {
			errs = append(errs, fmt.Errorf("replicas[%d]: %s listed twice", i, r.Addr))
		}
		seen[r.Addr] = true
	}
	if d, err := time.ParseDuration(c.Every); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("every %q: want a duration of 1s or more", c.Every))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

// Service makes the sync service the configuration describes: TLS to every replica trusting the CA file alone,
// the push credentials on every request that asks for them.
func (c *SyncConfig) Service(log *slog.Logger) (*SyncService, error) {
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", c.CAFile)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password})
	every, _ := time.ParseDuration(c.Every)
	s := &SyncService{Every: every, Log: log}
	for _, r := range c.Replicas {
		s.Replicas = append(s.Replicas, Replica{Name: r.Name, Addr: r.Addr, Transport: tr, Auth: auth})
	}
	return s, nil
}
