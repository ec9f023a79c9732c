package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// EtcdOptions configure berth etcd backup and restore.
type EtcdOptions struct {
	Inventory *inventory.Inventory
	StateDir  string // base of the state directories; "" for the default
	File      string // backup: where to write ("" for the state directory); restore: the snapshot
	SHA256    string // restore: the snapshot's sha256 when no FILE.sha256 lies beside it
	DryRun    bool   // restore: print what would change
	Observers []phase.Observer
	Logger    *slog.Logger
	Command   string
	Pool      *remote.Pool
}

// Backup saves a snapshot of the cluster's etcd on this machine (0600, with its sha256 beside it). It changes no
// host and takes no lock.
func Backup(ctx context.Context, o EtcdOptions) (*Snapshot, error) {
	if o.Inventory == nil {
		return nil, errors.New("a backup needs an inventory")
	}
	a, err := action.Open(action.Options{Action: "etcd-backup", Inventory: o.Inventory, StateDir: o.StateDir, ReadOnly: true,
		Observers: o.Observers, Logger: o.Logger, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := installer.NewCluster(a, o.Inventory, nil, "")
	file := o.File
	if file == "" {
		file = filepath.Join(a.Dir, "snapshots", SnapshotName(o.Inventory.Metadata.Name, time.Now()))
	}
	var snap *Snapshot
	_, err = a.Run(ctx, &installer.Connect{C: c}, &installer.Facts{C: c}, &phaseFunc{title: "Save an etcd snapshot", name: "etcd-snapshot",
		run: func(ctx context.Context, s *phase.Session) error {
			var err error
			snap, err = TakeSnapshot(ctx, c, file, "")
			if err == nil {
				s.Logf("", "etcd snapshot %s: %d bytes, sha256 %s", snap.File, snap.Size, snap.SHA256)
			}
			return err
		}})
	return snap, err
}

// Restore puts a snapshot back into every etcd member the documented kubeadm way, under the cluster's lock: the
// snapshot's sha256 is checked first (a mismatch changes nothing), then the API servers and etcd stop on every
// control plane, each member's data is restored from the snapshot as a new cluster of the same members, etcd and the
// API servers start again, and every kubelet restarts so that nothing serves stale state. The data each member had is
// kept beside it (/var/lib/etcd.before-restore-<time>).
func Restore(ctx context.Context, o EtcdOptions) (*phase.Report, error) {
	if o.Inventory == nil || o.File == "" {
		return nil, errors.New("a restore needs an inventory and a snapshot (--from)")
	}
	sum, err := VerifySnapshot(o.File, o.SHA256)
	if err != nil {
		return nil, err
	}
	a, err := action.Open(action.Options{Action: "etcd-restore", Inventory: o.Inventory, StateDir: o.StateDir, DryRun: o.DryRun,
		Observers: o.Observers, Logger: o.Logger, Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := installer.NewCluster(a, o.Inventory, nil, "")
	return a.Run(ctx, &installer.Connect{C: c}, &installer.Facts{C: c}, &restore{c: c, file: o.File, sum: sum})
}

// phaseFunc is a phase made of one function.
type phaseFunc struct {
	phase.Base
	title, name string
	run         func(ctx context.Context, s *phase.Session) error
}

func (p *phaseFunc) Title() string                 { return p.title }
func (p *phaseFunc) Name() string                  { return p.name }
func (p *phaseFunc) Run(ctx context.Context) error { return p.run(ctx, p.Session) }

// restore is the phase that puts a snapshot back into every member.
type restore struct {
	phase.Base
	c    *installer.Cluster
	file string
	sum  string
}

func (p *restore) Title() string { return "Restore etcd from the snapshot on every control plane" }
func (p *restore) Name() string  { return "etcd-restore" }

// Where the restore keeps things on control planes.
const (
	restoreSnapshot = SnapshotDir + "/restore.db"
	stoppedManifest = "/etc/kubernetes/berth-stopped"
	manifestDir     = "/etc/kubernetes/manifests"
	etcdDataDir     = "/var/lib/etcd"
)

// etcdutlScript defines a shell function etcdutl that runs etcdutl from the etcd image of the host's etcd static
// pod (wherever the restore has moved its manifest), in a throwaway container that sees /var/lib, where the snapshot
// and etcd's data live. The hosts carry no etcdutl of their own: the image's matches the etcd it restores.
var etcdutlScript = fmt.Sprintf(`img=$(sed -n 's/^[[:space:]]*image:[[:space:]]*//p' %[1]s/etcd.yaml %[2]s/etcd.yaml 2>/dev/null | head -1)
if [ -z "$img" ]; then echo "neither %[1]s/etcd.yaml nor %[2]s/etcd.yaml names etcd's image" >&2; exit 1; fi
etcdutl() {
  ctr -n k8s.io tasks rm -f berth-etcdutl >/dev/null 2>&1 || true
  ctr -n k8s.io containers rm berth-etcdutl >/dev/null 2>&1 || true
  ctr -n k8s.io run --rm --mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw "$img" berth-etcdutl /usr/local/bin/etcdutl "$@"
}
`, manifestDir, stoppedManifest)

// stopped are the static pods a restore stops: etcd, and everything that talks to it or caches what it held.
var stopped = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}

func (p *restore) Run(ctx context.Context) error {
	c := p.c
	cps := c.Inv.ControlPlanes()
	names := hostNames(cps)
	var cluster []string
	for _, h := range cps {
		cluster = append(cluster, h.Name+"=https://"+c.Inv.NodeIP(h)+":2380")
	}
	token := "berth-restore-" + p.sum[:12]
	stamp := time.Now().UTC().Format("20060102T150405Z")
	each := func(what string, fn func(ctx context.Context, host string, h remote.Host) error) error {
		return p.Each(ctx, names, func(ctx context.Context, host string) error {
			h, err := c.Host(host)
			if err != nil {
				return err
			}
			return p.Wet(host, what, func() error { return fn(ctx, host, h) })
		})
	}
	if err := each("copy the snapshot (sha256 "+p.sum[:12]+"...) to "+restoreSnapshot, func(ctx context.Context, _ string, h remote.Host) error {
		_, err := h.PutFiles(ctx, []remote.File{{Src: p.file, Dst: restoreSnapshot, Mode: 0o600, Digest: p.sum}}, nil)
		return err
	}); err != nil {
		return err
	}
	// etcdutl comes from the etcd image the host runs (the etcd of the cluster's own version); that it runs is
	// checked on every control plane before anything stops.
	if err := p.Each(ctx, names, func(ctx context.Context, host string) error {
		h, err := c.Host(host)
		if err != nil {
			return err
		}
		if _, err := h.Exec(ctx, etcdutlScript+"etcdutl version >/dev/null"); err != nil {
			return fmt.Errorf("etcdutl from %s's etcd image does not run, nothing was stopped: %w", host, err)
		}
		return nil
	}); err != nil {
		return err
	}
	var moveOut, moveIn []string
	for _, m := range stopped {
		moveOut = append(moveOut, fmt.Sprintf("if [ -f %[1]s/%[3]s.yaml ]; then mv -f %[1]s/%[3]s.yaml %[2]s/%[3]s.yaml; fi", manifestDir, stoppedManifest, m))
	}
	if err := each("stop the API server, controller manager, scheduler and etcd (static pod manifests moved to "+stoppedManifest+")", func(ctx context.Context, _ string, h remote.Host) error {
		_, err := h.Exec(ctx, "mkdir -p "+stoppedManifest+" && "+strings.Join(moveOut, " && ")+
			" && for i in $(seq 1 120); do ss -Hltn '( sport = :2379 or sport = :2380 )' | grep -q . || exit 0; sleep 1; done; echo 'etcd did not stop within 2 minutes' >&2; exit 1")
		return err
	}); err != nil {
		return err
	}
	// The data directory is often a filesystem of its own (a disk for etcd; a volume on the lab's hosts), so it is
	// never renamed: the snapshot is restored into a directory inside it and the member directories are swapped
	// there, each with one rename, the old one kept inside the data directory too.
	before := path.Join(etcdDataDir, ".berth-before-restore-"+stamp)
	if err := each("restore the snapshot into "+etcdDataDir+" as a member of "+strings.Join(names, ", ")+" (the old data kept in "+before+")", func(ctx context.Context, host string, h remote.Host) error {
		ip := c.Inv.NodeIP(c.Inv.Host(host))
		marker := path.Join(etcdDataDir, ".berth-restored-"+p.sum[:12])
		script := fmt.Sprintf(`set -e
if [ -f %[6]s ]; then exit 0; fi
mkdir -p %[5]s
chmod 0700 %[5]s
rm -rf %[5]s/.berth-restoring
`+etcdutlScript+`etcdutl snapshot restore %[1]s --name %[2]s --initial-cluster %[3]s --initial-cluster-token %[4]s --initial-advertise-peer-urls https://%[7]s:2380 --data-dir %[5]s/.berth-restoring >/dev/null
if [ -d %[5]s/member ]; then mkdir -p -m 0700 %[8]s && mv %[5]s/member %[8]s/member; fi
mv %[5]s/.berth-restoring/member %[5]s/member
rm -rf %[5]s/.berth-restoring
touch %[6]s`, restoreSnapshot, host, strings.Join(cluster, ","), token, etcdDataDir, marker, ip, before)
		_, err := h.Exec(ctx, script)
		return err
	}); err != nil {
		return fmt.Errorf("%w\n  fix: etcd and the API servers of the control planes are stopped (their manifests are in %s) and the data of each member is as it was "+
			"unless this says it was restored; fix the cause and run the same berth etcd restore again to finish, or move the manifests back to %s "+
			"on every control plane to start the cluster on its data from before", err, stoppedManifest, manifestDir)
	}
	if err := each("start etcd again", func(ctx context.Context, _ string, h remote.Host) error {
		_, err := h.Exec(ctx, fmt.Sprintf("if [ -f %[2]s/etcd.yaml ]; then mv -f %[2]s/etcd.yaml %[1]s/etcd.yaml; fi", manifestDir, stoppedManifest))
		return err
	}); err != nil {
		return err
	}
	if err := p.Wait(ctx, "", c.EtcdHealthy(5*time.Minute)); err != nil {
		return err
	}
	for _, m := range stopped[:3] {
		moveIn = append(moveIn, fmt.Sprintf("if [ -f %[2]s/%[3]s.yaml ]; then mv -f %[2]s/%[3]s.yaml %[1]s/%[3]s.yaml; fi", manifestDir, stoppedManifest, m))
	}
	if err := each("start the API server, controller manager and scheduler again, and restart the kubelet", func(ctx context.Context, _ string, h remote.Host) error {
		_, err := h.Exec(ctx, strings.Join(moveIn, " && ")+" && systemctl restart kubelet && rm -f "+restoreSnapshot)
		return err
	}); err != nil {
		return err
	}
	if err := p.Wait(ctx, "", c.APIThroughVIP(5*time.Minute)); err != nil {
		return err
	}
	workers := hostNames(c.Inv.Workers())
	if err := p.Each(ctx, workers, func(ctx context.Context, host string) error {
		h, err := c.Host(host)
		if err != nil {
			return err
		}
		return p.Wet(host, "restart the kubelet (it held the state from before the restore)", func() error {
			_, err := h.Exec(ctx, "systemctl restart kubelet")
			return err
		})
	}); err != nil {
		return err
	}
	return p.Wait(ctx, "", c.ClusterReady(10*time.Minute))
}
