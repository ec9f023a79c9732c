package installer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/manifests"
)

// ResetOptions configure a reset.
type ResetOptions struct {
	Inventory *inventory.Inventory
	StateDir  string // base of the state directories; "" for the default
	DryRun    bool
	Observers []phase.Observer
	Logger    *slog.Logger
	Command   string
	Pool      *remote.Pool // host connections; nil connects to the inventory's hosts over SSH
}

// Reset removes from every host what berth installed: the cluster (kubeadm reset), the load balancer, the
// container runtime's data, the packages berth added (only those: packages that were there before stay), and
// berth's files, then forgets the cluster's journal and kubeconfig. It runs under the cluster's lock.
func Reset(ctx context.Context, o ResetOptions) (*phase.Report, error) {
	a, err := action.Open(action.Options{Action: "reset", Inventory: o.Inventory, StateDir: o.StateDir, DryRun: o.DryRun,
		Observers: o.Observers, Logger: o.Logger, Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, o.Inventory, nil, "")
	return a.Run(ctx, &Connect{C: c}, &Facts{C: c}, &resetHosts{c: c}, &forgetState{c: c})
}

// resetMounts matches the mounts the reset takes down: those the runtime and the kubelet made below their
// directories (pod volumes, sandboxes' shm, rootfs). Never the directories themselves: /var/lib/containerd or
// /var/lib/kubelet is often a filesystem of its own (a disk, or a volume on the lab's hosts), and unmounting it
// would put the next install's containers on the root filesystem.
const resetMounts = "^/(run/containerd|var/lib/containerd|var/lib/kubelet)/"

// resetScript removes berth's cluster from a host. Every step tolerates what is already gone.
const resetScript = `set -u
if systemctl is-active --quiet ` + kubeadmUnit + `; then systemctl stop ` + kubeadmUnit + `; fi
if command -v kubeadm >/dev/null; then kubeadm reset -f --cri-socket ` + manifests.CRISocket + ` >/dev/null 2>&1; fi
systemctl disable --now ` + manifests.DNSCacheUnit + ` >/dev/null 2>&1
if [ -x ` + manifests.DNSCacheNetScript + ` ]; then ` + manifests.DNSCacheNetScript + ` down; fi
rm -f ` + manifests.DNSCacheUnitPath + ` ` + manifests.DNSCacheConfPath + ` ` + manifests.DNSCacheNetScript + `
systemctl disable --now kubelet keepalived haproxy dnsmasq >/dev/null 2>&1
` + firewallRemove + `
rm -f ` + manifests.DNSHostConfPath + `
rm -f ` + kubeletUnitFile + ` ` + kubeletDropInFile + `
rmdir ` + "/etc/systemd/system/kubelet.service.d" + ` 2>/dev/null
for u in $(cd /etc/systemd/system && ls berth-registry-*.service 2>/dev/null); do systemctl disable --now "$u" >/dev/null 2>&1; rm -f /etc/systemd/system/"$u"; done
rm -f ` + registryBinary + `
rm -rf ` + hostBerthDir + `
systemctl daemon-reload
if systemctl is-active --quiet containerd; then
  ctr -n k8s.io tasks ls -q 2>/dev/null | xargs -r -n1 ctr -n k8s.io tasks kill -s SIGKILL >/dev/null 2>&1
  systemctl stop containerd
fi
systemctl disable containerd >/dev/null 2>&1
for m in $(awk '$2 ~ "` + resetMounts + `" {print $2}' /proc/mounts | sort -r); do umount -l "$m"; done
for d in /var/lib/containerd /var/lib/kubelet /var/lib/etcd; do [ -d "$d" ] && find "$d" -mindepth 1 -delete 2>/dev/null; done
rm -rf /etc/kubernetes /etc/cni/net.d /opt/cni/bin /run/flannel ` + configDir + ` ` + containerdConfig + ` ` + keepalivedConfig + ` ` + keepalivedCheck + `
rm -f ` + sysctlFile + ` ` + modulesFile + ` ` + binDir + `/kubeadm ` + binDir + `/kubelet ` + binDir + `/kubectl ` + binDir + `/etcdctl
ip link delete cni0 >/dev/null 2>&1; ip link delete flannel.1 >/dev/null 2>&1
if command -v iptables-save >/dev/null; then
  iptables-save | grep -Ev '(KUBE-|FLANNEL|CNI-)' | iptables-restore
fi
if [ -s ` + packagesRecord + ` ]; then
  DEBIAN_FRONTEND=noninteractive dpkg --purge $(cat ` + packagesRecord + `) >/dev/null
fi
rm -rf /var/lib/berth
`

// resetHosts runs the reset on every host where berth left something.
type resetHosts struct {
	phase.Base
	c     *Cluster
	hosts []string // the hosts to reset; nil for every host of the inventory
	todo  []string
}

func (p *resetHosts) Title() string { return "Remove the cluster from the hosts" }
func (p *resetHosts) Name() string  { return "reset-hosts" }

func (p *resetHosts) Prepare(ctx context.Context) error {
	hosts := p.hosts
	if hosts == nil {
		hosts = p.c.allHosts()
	}
	for _, h := range hosts {
		e, err := p.c.Host(h)
		if err != nil {
			return err
		}
		out, err := e.Exec(ctx, "for p in /var/lib/berth /etc/kubernetes "+kubeletUnitFile+" "+containerdConfig+" "+configDir+" "+registryBinary+" "+hostBerthDir+" "+planes.FirewallUnitPath+"; do [ -e $p ] && echo $p; done; grep -c '^"+hostsBegin+"$' /etc/hosts || true")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "0" {
			p.todo = append(p.todo, h)
		}
	}
	return nil
}

func (p *resetHosts) ShouldRun() bool { return len(p.todo) > 0 }

func (p *resetHosts) Run(ctx context.Context) error {
	return p.Each(ctx, p.todo, func(ctx context.Context, host string) error {
		e, err := p.c.Host(host)
		if err != nil {
			return err
		}
		var registryData []string
		for _, ri := range p.c.registryInstances() {
			if ri.host.Name == host {
				registryData = append(registryData, remote.Quote(ri.root()))
			}
		}
		if h := p.c.Inv.Host(host); h != nil && h.IsNode() && localPathOn(p.c.Inv) {
			registryData = append(registryData, remote.Quote(p.c.Inv.Storage.LocalPath.Path)) // the local-path volumes
		}
		return p.Wet(host, "kubeadm reset; stop kubelet, keepalived, haproxy, containerd and the registries; remove their data (local-path volumes too), berth's files, its firewall and the packages berth installed", func() error {
			if _, err := e.Exec(ctx, resetScript); err != nil {
				return err
			}
			if len(registryData) > 0 {
				if _, err := e.Exec(ctx, "rm -rf "+strings.Join(registryData, " ")); err != nil {
					return err
				}
			}
			// /etc/hosts may be a bind mount: edit a copy and write it back in place.
			_, err := e.Exec(ctx, "cp /etc/hosts /etc/hosts.berth-copy && sed -i '/^"+hostsBegin+"$/,/^"+hostsEnd+"$/d' /etc/hosts.berth-copy && cat /etc/hosts.berth-copy > /etc/hosts && rm -f /etc/hosts.berth-copy")
			return err
		})
	})
}

// forgetState removes the cluster's journal and kubeconfig from the state directory.
type forgetState struct {
	phase.Base
	c *Cluster
}

func (p *forgetState) Title() string { return "Forget the cluster's local state" }
func (p *forgetState) Name() string  { return "forget-state" }

func (p *forgetState) Run(ctx context.Context) error {
	var files []string
	for _, name := range []string{KubeconfigFile, filepath.Base(phase.JournalPath(p.c.StateDir, "install")),
		filepath.Base(phase.JournalPath(p.c.StateDir, "upgrade"))} {
		if _, err := os.Stat(filepath.Join(p.c.StateDir, name)); err == nil {
			files = append(files, filepath.Join(p.c.StateDir, name))
		}
	}
	if len(files) == 0 {
		return nil
	}
	return p.Wet("", fmt.Sprintf("remove %s", strings.Join(files, ", ")), func() error {
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
		return nil
	})
}
