package preflight

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/inventory"
)

// checkListeners: on an installed cluster (Options.Installed), none of berth's programs may listen on every
// address of the host, which is every plane at once: berth binds each to its plane's address, a VIP or loopback.
// Before an install there is nothing of berth's to look at.
func checkListeners(in *input, h *inventory.Host, f *Facts) []Result {
	if !in.installed {
		return nil
	}
	var wild []string
	for _, l := range f.Listeners {
		a, err := netip.ParseAddr(l.Address)
		if err == nil && a.IsUnspecified() && planes.IsBerthProgram(l.Process) {
			wild = append(wild, fmt.Sprintf("%s on %s/%d", l.Process, l.Proto, l.Port))
		}
	}
	if len(wild) == 0 {
		return []Result{{Host: h.Name, Check: "listeners", Status: OK, Detail: "none of berth's programs listens on every address"}}
	}
	return []Result{{Host: h.Name, Check: "listeners", Status: Warn,
		Detail: "berth's programs listening on every address, so on every network plane: " + strings.Join(wild, ", "),
		Fix: "run berth install again with this berth, which binds haproxy to the VIP; a kubelet or kube-proxy of a node joined by an " +
			"older berth keeps its addresses until the node joins again (berth node remove, then berth install); berth status --listeners shows where each listens"}}
}
