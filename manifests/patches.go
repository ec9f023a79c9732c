package manifests

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// PatchesDir is where berth puts the kubeadm patches of a control-plane node.
const PatchesDir = "/etc/berth/kubeadm-patches"

// APIServerPatch returns the kubeadm patch file name and content that bind a node's API server to its
// control-plane address only (kubeadm binds every address otherwise). haproxy, listening on the VIP port of every
// address, stays the only way in from other planes.
func APIServerPatch(address string) (name string, content []byte, err error) {
	if _, err := netip.ParseAddr(address); err != nil {
		return "", nil, fmt.Errorf("api server patch: %w", err)
	}
	ops := []map[string]string{{"op": "add", "path": "/spec/containers/0/command/-", "value": "--bind-address=" + address}}
	content, err = json.Marshal(ops)
	return "kube-apiserver+json.json", append(content, '\n'), err
}
