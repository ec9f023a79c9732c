package preflight

import (
	"fmt"

	"github.com/berthsh/berth/inventory"
)

// checkArch: every binary, image and package of a bundle is built for one architecture; a host of another
// cannot run any of them. Only checked when there is a bundle to compare with.
func checkArch(in *input, h *inventory.Host, f *Facts) []Result {
	if in.arch == "" {
		return nil
	}
	if f.Arch == "" {
		return []Result{{Host: h.Name, Check: "arch", Status: Fail, Detail: "uname -m printed nothing: the host's architecture is unknown",
			Fix: "check that uname works on the host"}}
	}
	if f.Arch != in.arch {
		return []Result{{Host: h.Name, Check: "arch", Status: Fail,
			Detail: fmt.Sprintf("host %s is %s, the bundle is built for %s: nothing in it runs there", h.Name, f.Arch, in.arch),
			Fix:    fmt.Sprintf("install with a bundle built for %s (target.arch in the bundle spec), or use %s hosts", f.Arch, in.arch)}}
	}
	return []Result{{Host: h.Name, Check: "arch", Status: OK, Detail: f.Arch + ", as the bundle"}}
}
