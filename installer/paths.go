package installer

import "github.com/berthsh/berth/airgap"

// Where berth puts things on hosts.
const (
	binDir            = airgap.BinDir                       // kubeadm, kubelet, kubectl, etcdctl
	cniBinDir         = airgap.CNIBinDir                    // CNI plugins
	configDir         = "/etc/berth"                        // kubeadm configurations (0700; secrets removed after use)
	packagesRecord    = "/var/lib/berth/installed-packages" // packages berth installed (reset removes exactly these)
	sysctlFile        = "/etc/sysctl.d/90-berth-kubernetes.conf"
	modulesFile       = "/etc/modules-load.d/berth-kubernetes.conf"
	containerdConfig  = "/etc/containerd/config.toml"
	kubeletUnitFile   = "/etc/systemd/system/kubelet.service"
	kubeletDropInFile = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
	keepalivedConfig  = "/etc/keepalived/keepalived.conf"
	keepalivedCheck   = "/etc/keepalived/berth-check-haproxy.sh"
	haproxyConfig     = "/etc/haproxy/haproxy.cfg"
	adminConf         = "/etc/kubernetes/admin.conf"
	manifestsDir      = "/etc/kubernetes/manifests" // the kubelet's static pods
	kubeletConf       = "/etc/kubernetes/kubelet.conf"
	etcdPKI           = "/etc/kubernetes/pki/etcd"
)
