package manifests

import (
	"fmt"
	"net/netip"
)

// CNIConfPath is where the CNI network configuration goes on every node.
const CNIConfPath = "/etc/cni/net.d/10-flannel.conflist"

// Flannel is the input of the pod network's manifests.
type Flannel struct {
	Image         string // flannel image from the bundle
	PodCIDR       string // the cluster's pod network
	Plane         string // plane carrying pod traffic (for the comment)
	IfaceCanReach string // an address on the pod plane no host owns: flannel picks the NIC that routes to it
	PullPolicy    string // the pod's imagePullPolicy (PullPolicy); "" for Never
}

// FlannelManifests renders the Kubernetes objects of the pod network as multi-document YAML.
func FlannelManifests(f Flannel) ([]byte, error) {
	if f.Image == "" {
		return nil, fmt.Errorf("flannel: image is empty")
	}
	if _, err := netip.ParsePrefix(f.PodCIDR); err != nil {
		return nil, fmt.Errorf("flannel: pod CIDR: %w", err)
	}
	if _, err := netip.ParseAddr(f.IfaceCanReach); err != nil {
		return nil, fmt.Errorf("flannel: interface probe address: %w", err)
	}
	f.PullPolicy = pullPolicy(f.PullPolicy)
	return render("flannel.yaml", f)
}

// PullPolicy is the imagePullPolicy of an add-on's pods: IfNotPresent when the nodes pull its images from the
// System registry, Never when every node that runs it imported them from the bundle (a pull could only fail).
func PullPolicy(pulled bool) string {
	if pulled {
		return "IfNotPresent"
	}
	return "Never"
}

func pullPolicy(p string) string {
	if p == "" {
		return "Never"
	}
	return p
}

// CNIConf renders the CNI configuration berth writes on every node: flannel delegating to the bridge plugin,
// plus portmap for host ports.
func CNIConf() ([]byte, error) { return render("10-flannel.conflist", nil) }
