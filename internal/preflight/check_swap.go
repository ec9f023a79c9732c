package preflight

import (
	"strings"

	"github.com/berthsh/berth/inventory"
)

// checkSwap: swap should be off on Kubernetes nodes; the kubelet tolerates it only when told to.
func checkSwap(_ *input, h *inventory.Host, f *Facts) []Result {
	if len(f.Swaps) == 0 {
		return []Result{{Host: h.Name, Check: "swap", Status: OK, Detail: "no swap"}}
	}
	return []Result{{Host: h.Name, Check: "swap", Status: Warn, Detail: "swap is on: " + strings.Join(f.Swaps, ", ") + " (" + size(f.SwapBytes) + ")",
		Fix: "swapoff -a and remove the swap entries from /etc/fstab; memory limits of pods are only reliable without swap"}}
}
