package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// hostBerthPath is where berth puts its own binary on the hosts that run one of its services (the User registry's
// sync service).
const (
	hostBerthDir  = "/usr/local/lib/berth"
	hostBerthPath = hostBerthDir + "/berth"
)

// registrySyncEvery is how often a sync service compares the replicas unasked (it also does at every push).
const registrySyncEvery = 30 * time.Second

// syncs says whether the instance runs a sync service: a User registry with two or more hosts.
func (ri registryInstance) syncs() bool {
	return ri.reg.Role == inventory.RegistryUser && len(ri.reg.Hosts) > 1
}

// syncAddr is where the instance's sync service takes its push listener's notifications: a loopback address of the
// registry's own (127.0.2.<index+1>) at the push port.
func (ri registryInstance) syncAddr() string {
	ip := registryLoopback(ri.index).As4()
	ip[2] = 2
	return net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(ri.reg.PushPort))
}

func (ri registryInstance) syncUnit() string {
	return "berth-registry-" + ri.reg.Name + "-sync.service"
}

func (ri registryInstance) syncConfigPath() string { return path.Join(ri.dir(), "sync.json") }

func (ri registryInstance) caPath() string { return path.Join(ri.dir(), "ca.crt") }

// hostBerth is this berth's own executable and its sha256: what runs berth's services on hosts. It reads the
// binary once per process.
var hostBerth = sync.OnceValues(func() (berthBinary, error) {
	p, err := os.Executable()
	if err != nil {
		return berthBinary{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return berthBinary{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return berthBinary{}, err
	}
	return berthBinary{Path: p, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
})

type berthBinary struct{ Path, SHA256 string }

// registrySyncFiles are the files of an instance's sync service: the registry CA, the configuration (0600, with
// the push credentials) naming every instance's push listener, and the unit.
func (c *Cluster) registrySyncFiles(ri registryInstance, caPEM []byte, password string) ([]airgap.File, error) {
	cfg := airgap.SyncConfig{Registry: ri.reg.Name, Listen: ri.syncAddr(), CAFile: ri.caPath(), Username: registryPushUser,
		Password: password, Every: registrySyncEvery.String()}
	for _, other := range c.registryInstances() {
		if other.reg == ri.reg {
			cfg.Replicas = append(cfg.Replicas, airgap.SyncReplica{Name: other.String(), Addr: other.pushAddr()})
		}
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := airgap.ParseSyncConfig(data); err != nil {
		return nil, fmt.Errorf("sync service of %s: %w", ri, err)
	}
	unit, err := manifests.RegistrySyncUnit(ri.reg.Name, hostBerthPath, ri.syncConfigPath(), ri.unitName("push"))
	if err != nil {
		return nil, err
	}
	return []airgap.File{
		{Path: ri.caPath(), Content: caPEM, Mode: 0o644},
		{Path: ri.syncConfigPath(), Content: append(data, '\n'), Mode: 0o600},
		{Path: path.Join("/etc/systemd/system", ri.syncUnit()), Content: unit, Mode: 0o644},
	}, nil
}

// ensureHostBerth puts this berth's binary on the host as hostBerthPath unless it is there already, and says
// whether it changed. berth runs on the hosts only where its services need it; it must be a Linux build of the
// bundle's architecture.
func ensureHostBerth(ctx context.Context, s *phase.Session, host string, e remote.Host, arch string) (bool, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != arch {
		return false, fmt.Errorf("host %s: the User registry's sync service runs this berth binary on the registry's hosts, "+
			"and it is a %s/%s build: run berth install from a linux/%s machine", host, runtime.GOOS, runtime.GOARCH, arch)
	}
	self, err := hostBerth()
	if err != nil {
		return false, fmt.Errorf("read berth's own binary: %w", err)
	}
	have, err := airgap.Digests(ctx, e, []string{hostBerthPath})
	if err != nil {
		return false, err
	}
	if have[hostBerthPath] == self.SHA256 {
		return false, nil
	}
	return true, s.Wet(host, "install berth itself as "+hostBerthPath+" (it runs the registry's sync service)", func() error {
		if _, err := e.Exec(ctx, "install -d -m 0755 "+remote.Quote(path.Dir(hostBerthPath))); err != nil {
			return err
		}
		_, err := e.PutFiles(ctx, []remote.File{{Src: self.Path, Dst: hostBerthPath, Mode: 0o755, Digest: self.SHA256}}, nil)
		return err
	})
}

// syncService installs, (re)starts and waits for an instance's sync service; its files were written with the
// instance's (changed lists what changed on the host).
func (p *setupRegistries) syncService(ctx context.Context, e remote.Host, ri registryInstance, changed []string, binaryChanged bool) error {
	s, host := p.Session, ri.host.Name
	restart := binaryChanged || slices.ContainsFunc(changed, func(f string) bool {
		return f == ri.caPath() || f == ri.syncConfigPath() || strings.HasSuffix(f, "/"+ri.syncUnit())
	})
	if err := ensureService(ctx, s, host, e, strings.TrimSuffix(ri.syncUnit(), ".service"), restart); err != nil {
		return err
	}
	if s.IsDryRun() {
		return nil
	}
	tr := &http.Transport{DialContext: e.DialContext}
	defer tr.CloseIdleConnections()
	return s.Wait(ctx, host, phase.Wait{What: "the sync service of registry " + ri.reg.Name + " to answer on " + ri.syncAddr(),
		Timeout: registryWait, Every: time.Second, Check: func(ctx context.Context) (bool, string, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ri.syncAddr()+"/", nil)
			if err != nil {
				return false, "", err
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return false, err.Error(), nil
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status, nil
		}})
}
