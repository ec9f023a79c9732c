package installer

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/pki"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// registryWait bounds the wait for a registry listener to answer after it (re)started.
const registryWait = time.Minute

// setupRegistries runs the inventory's registries on their hosts: the registry engine from the bundle as one
// systemd service per listener, each bound to its plane's address only and serving TLS with a certificate from
// the cluster's registry CA. The System registry's plane listener is read-only; berth fills it through a second,
// writable listener on a loopback address of the host, reached through SSH, and pushes the bundle's images to
// every replica, reading each digest back, before any node relies on them.
type setupRegistries struct {
	phase.Base
	c       *Cluster
	content *airgap.Content
	hops    []*airgap.Content // an upgrade's bundles of the minors on the way: the System registry serves theirs too
}

func (p *setupRegistries) Title() string {
	return "Run the image registries and fill the System registry"
}
func (p *setupRegistries) Name() string { return "registries" }

func (p *setupRegistries) ShouldRun() bool { return len(p.c.registryInstances()) > 0 }

func (p *setupRegistries) Run(ctx context.Context) error {
	c := p.c
	engine, err := airgap.RegistryEngine(c.Bundle.Manifest)
	if err != nil {
		return err
	}
	now := time.Now()
	if p.IsDryRun() && !c.registryCAExists() {
		// Nothing is made on this machine in a dry run: say what the run would do on each host.
		_ = p.Wet("", "make the registry CA in "+c.StateDir+" ("+registryCAName+"-ca.crt, key 0600)", nil)
		for _, ri := range c.registryInstances() {
			_ = p.Wet(ri.host.Name, fmt.Sprintf("install registry %s (certificate, configuration, units) on %s and start it", ri.reg.Name, ri.planeAddr()), nil)
		}
		return nil
	}
	var ca *pki.CA
	if c.registryCAExists() {
		ca, err = c.RegistryCA(now)
	} else {
		err = p.Wet("", "make the registry CA in "+c.StateDir, func() error {
			ca, err = c.RegistryCA(now)
			return err
		})
	}
	if err != nil {
		return err
	}
	secrets := map[string]registrySecrets{}
	for _, r := range c.Inv.Registries {
		var rs registrySecrets
		if rs.upload, err = c.registrySecret(r.Name, !p.IsDryRun()); err != nil {
			return err
		}
		if rs.upload == "" { // a dry run before the registry's first install: plan with a stand-in
			rs.upload = strings.Repeat("0", 52)
		}
		if r.Role == inventory.RegistryUser {
			var cred RegistryCredentials
			if cred, rs.htpasswd, err = c.registryCredentials(r.Name, !p.IsDryRun()); err != nil {
				return err
			}
			rs.password = cred.Password
			if rs.password == "" { // a dry run before the registry's first install
				rs.password = "planned"
			}
		}
		secrets[r.Name] = rs
	}
	byHost := map[string][]registryInstance{}
	var hosts []string
	for _, ri := range c.registryInstances() {
		if _, ok := byHost[ri.host.Name]; !ok {
			hosts = append(hosts, ri.host.Name)
		}
		byHost[ri.host.Name] = append(byHost[ri.host.Name], ri)
	}
	if err := p.Each(ctx, hosts, func(ctx context.Context, host string) error {
		return p.host(ctx, host, byHost[host], engine.SHA256, ca, secrets, now)
	}); err != nil {
		return err
	}
	return p.waitVIPs(ctx, ca)
}

// registrySecrets are what berth keeps in the state directory for one registry: its upload secret and, for a User
// registry, the htpasswd line of its push credentials.
type registrySecrets struct {
	upload   string
	htpasswd []byte
	password string // the push password, which the User registry's sync service pushes with
}

// host sets up every registry instance of one host, then fills its System registry instances.
func (p *setupRegistries) host(ctx context.Context, host string, insts []registryInstance, engineSHA string, ca *pki.CA, secrets map[string]registrySecrets, now time.Time) error {
	c, s := p.c, p.Session
	e, err := c.Host(host)
	if err != nil {
		return err
	}
	have, err := airgap.Digests(ctx, e, []string{registryBinary})
	if err != nil {
		return err
	}
	newEngine := have[registryBinary] != engineSHA
	if newEngine {
		if err := s.Wet(host, "install the registry engine as "+registryBinary, func() error {
			_, err := e.Exec(ctx, fmt.Sprintf("install -D -m 0755 %s %s", remote.Quote(airgap.StagePath(engineSHA)), registryBinary))
			return err
		}); err != nil {
			return err
		}
	}
	if h := c.Inv.Host(host); h != nil && !h.IsNode() {
		if err := p.registryOnlyPackages(ctx, host, e); err != nil {
			return err
		}
	}
	berthChanged := false
	if slices.ContainsFunc(insts, registryInstance.syncs) {
		if berthChanged, err = ensureHostBerth(ctx, s, host, e, c.Bundle.Manifest.Target.Arch); err != nil {
			return err
		}
	}
	tr, err := c.registryTransport(host, ca)
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	for _, ri := range insts {
		if err := p.instance(ctx, e, ri, ca, secrets[ri.reg.Name], newEngine, berthChanged, tr, now); err != nil {
			return fmt.Errorf("registry %s: %w", ri, err)
		}
	}
	for _, ri := range insts {
		if ri.reg.Role != inventory.RegistrySystem {
			continue
		}
		if p.IsDryRun() {
			_ = s.Wet(host, "push the bundle's images that registry "+ri.reg.Name+" lacks, and check their digests", nil)
			continue
		}
		if err := p.fill(ctx, ri, ca); err != nil {
			return err
		}
	}
	return nil
}

// instance writes one registry instance's files, (re)starts its listeners when something they read changed, and
// waits until each answers.
func (p *setupRegistries) instance(ctx context.Context, e remote.Host, ri registryInstance, ca *pki.CA, secrets registrySecrets, newEngine, berthChanged bool, tr *http.Transport, now time.Time) error {
	c, s, host := p.c, p.Session, ri.host.Name
	leaf, err := registryLeaf(c.Inv, ri.reg, ri.index)
	if err != nil {
		return err
	}
	certPath, keyPath := path.Join(ri.dir(), "tls.crt"), path.Join(ri.dir(), "tls.key")
	var files []airgap.File
	// The certificate stays while it names every address and has time left; a new one comes with a new key.
	keep := false
	if have, err := airgap.Digests(ctx, e, []string{certPath, keyPath}); err == nil && have[keyPath] != "" {
		if cert, err := e.ReadFile(ctx, certPath); err == nil {
			ok, why := ca.Covers(cert, leaf, now)
			keep = ok
			if !ok {
				s.Logf(host, "registry %s: new certificate: the one there %s", ri.reg.Name, why)
			}
		}
	}
	if !keep {
		certPEM, keyPEM, err := ca.Issue(leaf, now)
		if err != nil {
			return err
		}
		files = append(files, airgap.File{Path: certPath, Content: certPEM, Mode: 0o644}, airgap.File{Path: keyPath, Content: keyPEM, Mode: 0o600})
	}
	listeners := ri.listeners(secrets.upload)
	if ri.reg.Role == inventory.RegistryUser && secrets.htpasswd != nil {
		files = append(files, airgap.File{Path: ri.htpasswdPath(), Content: secrets.htpasswd, Mode: 0o600})
	}
	if ri.reg.VIP != "" {
		vf, err := c.registryVIPFiles(ri)
		if err != nil {
			return err
		}
		files = append(files, vf...)
	}
	if ri.syncs() {
		sf, err := c.registrySyncFiles(ri, ca.CertPEM, secrets.password)
		if err != nil {
			return err
		}
		files = append(files, sf...)
	}
	for _, l := range listeners {
		cfg, err := manifests.RegistryConfig(l.RegistryListener)
		if err != nil {
			return err
		}
		unit, err := manifests.RegistryUnit(l.RegistryListener, registryBinary, ri.configPath(l.suffix))
		if err != nil {
			return err
		}
		files = append(files, airgap.File{Path: ri.configPath(l.suffix), Content: cfg, Mode: 0o600},
			airgap.File{Path: path.Join("/etc/systemd/system", ri.unitName(l.suffix)), Content: unit, Mode: 0o644})
	}
	if out, _ := e.Exec(ctx, "test -d "+remote.Quote(ri.root())+" && test -d "+remote.Quote(ri.dir())+" && echo there"); strings.TrimSpace(out) != "there" {
		if err := s.Wet(host, "make the registry's storage "+ri.root()+" (0700)", func() error {
			_, err := e.Exec(ctx, "install -d -m 0700 "+remote.Quote(ri.root())+" && install -d -m 0755 "+remote.Quote(ri.dir()))
			return err
		}); err != nil {
			return err
		}
	}
	changed, err := airgap.EnsureFiles(ctx, s, host, e, files)
	if err != nil {
		return err
	}
	unitChanged := slices.ContainsFunc(changed, func(f string) bool { return strings.HasPrefix(f, "/etc/systemd/system/") })
	if unitChanged {
		if err := s.Wet(host, "reload systemd (registry units changed)", func() error {
			_, err := e.Exec(ctx, "systemctl daemon-reload")
			return err
		}); err != nil {
			return err
		}
	}
	tlsChanged := slices.Contains(changed, certPath) || slices.Contains(changed, keyPath)
	if ri.reg.VIP != "" {
		if err := nonlocalBind(ctx, s, host, e); err != nil {
			return err
		}
	}
	for _, l := range listeners {
		unit := strings.TrimSuffix(ri.unitName(l.suffix), ".service")
		restart := newEngine || tlsChanged || slices.Contains(changed, ri.configPath(l.suffix)) ||
			slices.Contains(changed, path.Join("/etc/systemd/system", ri.unitName(l.suffix))) ||
			(l.HTPasswd != "" && slices.Contains(changed, l.HTPasswd))
		if err := ensureService(ctx, s, host, e, unit, restart); err != nil {
			return err
		}
		if s.IsDryRun() {
			continue
		}
		check := registryAnswers(tr, l.Addr)
		if strings.HasPrefix(l.suffix, "vip") {
			// The VIP may be on another host, or on none yet: the listener must listen here; the VIP's answer is
			// waited for once keepalived runs everywhere.
			check = listening(e, l.Addr)
		}
		if err := s.Wait(ctx, host, phase.Wait{What: "registry " + ri.reg.Name + " to listen on " + l.Addr, Timeout: registryWait,
			Every: time.Second, Check: check}); err != nil {
			return err
		}
	}
	if ri.reg.VIP != "" {
		if err := p.vip(ctx, e, ri, changed); err != nil {
			return err
		}
	}
	if ri.syncs() {
		return p.syncService(ctx, e, ri, changed, berthChanged)
	}
	return nil
}

// fill pushes every image of the bundle, and of the bundles of the minors an upgrade steps through, to a System
// registry instance through its loopback listener and checks each digest there.
func (p *setupRegistries) fill(ctx context.Context, ri registryInstance, ca *pki.CA) error {
	c, s := p.c, p.Session
	rep, err := c.registryReplica(ri, ca)
	if err != nil {
		return err
	}
	for _, content := range append([]*airgap.Content{p.content}, p.hops...) {
		images := content.Bundle.Manifest.Images
		lacking, err := airgap.ReplicaLacks(ctx, images, rep)
		if err != nil {
			return err
		}
		if len(lacking) == 0 {
			continue
		}
		var res []airgap.ReplicaPush
		// The push sends only the blobs the replica lacks, then reads every digest back.
		err = s.Wet(ri.host.Name, fmt.Sprintf("push the images of bundle %s %s to registry %s (%d references it lacks) and check their digests",
			content.Bundle.Manifest.Name, content.Bundle.Manifest.Version, ri.reg.Name, len(lacking)), func() error {
			var err error
			res, err = airgap.PushImages(ctx, content, images, []airgap.Replica{rep})
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range res {
			s.Logf(ri.host.Name, "registry %s: %d images served with the bundle's digests; %s sent in %s", ri.reg.Name, r.Images,
				airgap.HumanBytes(r.Sent), r.Duration.Round(time.Millisecond))
		}
	}
	return nil
}
