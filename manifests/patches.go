package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
)

// PatchesDir is where berth puts the kubeadm patches of a control-plane node.
const PatchesDir = "/etc/berth/kubeadm-patches"

// Patch is a kubeadm patch file of PatchesDir: its name (TARGET+json.json) and content.
type Patch struct {
	Name    string
	Content []byte
}

// APIServerPatch returns the kubeadm patch file name and content that bind a node's API server to its
// control-plane address only (kubeadm binds every address otherwise). haproxy, listening on the VIP port of every
// address, stays the only way in from other planes.
func APIServerPatch(address string) (name string, content []byte, err error) {
	ops, err := bindOps(address)
	if err != nil {
		return "", nil, err
	}
	content, err = json.Marshal(ops)
	return "kube-apiserver+json.json", append(content, '\n'), err
}

// bindOps are the JSON patch operations of APIServerPatch.
func bindOps(address string) ([]map[string]string, error) {
	if _, err := netip.ParseAddr(address); err != nil {
		return nil, fmt.Errorf("api server patch: %w", err)
	}
	return []map[string]string{{"op": "add", "path": "/spec/containers/0/command/-", "value": "--bind-address=" + address}}, nil
}

// staticPods are the static pods kubeadm writes on a control plane, as kubeadm's patch targets name them.
var staticPods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// ControlPlanePatches returns the kubeadm patches of a control plane whose static pods run Kubernetes version:
// its API server bound to its control-plane address (APIServerPatch), and every static pod given a UID of berth's.
//
// Without one, the kubelet makes up a static pod's UID by hashing its own in-memory form of the pod, which changes
// between Kubernetes minors: the kubelet of the next minor, started after kubeadm upgraded the static pods, would
// stop every one of them (etcd and the API server too) and start it again under a new UID, a second restart of
// the whole control plane per host. berth's UID is a hash of the node, the pod, the version and the patch, so it
// changes exactly when kubeadm writes the pods of another version (kubeadm waits for that change) and a new kubelet
// keeps the pods that the one before it started.
func ControlPlanePatches(address, node, version string) ([]Patch, error) {
	_, bind, err := APIServerPatch(address) // the bind patch's bytes go into every UID
	if err != nil {
		return nil, err
	}
	if node == "" || version == "" {
		return nil, fmt.Errorf("control-plane patches: node %q and version %q must both be named", node, version)
	}
	var patches []Patch
	for _, pod := range staticPods {
		var ops []map[string]string
		if pod == "kube-apiserver" {
			ops, _ = bindOps(address) // the address parsed above
		}
		h := sha256.New()
		fmt.Fprintf(h, "berth static pod\x00%s\x00%s\x00%s\x00%s", node, pod, version, bind)
		ops = append(ops, map[string]string{"op": "add", "path": "/metadata/uid", "value": hex.EncodeToString(h.Sum(nil)[:16])})
		content, err := json.Marshal(ops)
		if err != nil {
			return nil, err
		}
		patches = append(patches, Patch{Name: pod + "+json.json", Content: append(content, '\n')})
	}
	return patches, nil
}
