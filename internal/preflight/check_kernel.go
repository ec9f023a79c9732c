package preflight

import (
	"fmt"
	"slices"

	"github.com/berthsh/berth/inventory"
)

// checkKernelFeatures: bridge netfilter, overlay fs and vxlan must be usable, built in or as modules, and IP
// forwarding must be on (or will be turned on). Built-ins count: hosts whose kernel has no loadable modules at all
// (modprobe finds nothing) are fine when the feature shows in /proc or /sys.
func checkKernelFeatures(_ *input, h *inventory.Host, f *Facts) []Result {
	var out []Result
	feature := func(name, evidence string, active bool, fix string) {
		r := Result{Host: h.Name, Check: "kernel/" + name, Status: OK}
		how := f.Modules[name]
		switch {
		case active:
			r.Detail = "active (" + evidence + ")"
			if how == "built-in" || how == "loaded" {
				r.Detail = "active, " + how + " (" + evidence + ")"
			}
		case how == "built-in":
			r.Detail = "built into the kernel"
		case how == "loaded" || how == "present":
			r.Detail = "module loaded"
		case how == "loadable":
			r.Detail = "module available; the install loads it (modprobe " + name + ")"
		default:
			r.Status = Fail
			r.Detail = "neither active, built in nor available as a module"
			r.Fix = fix
		}
		out = append(out, r)
	}
	feature("br_netfilter", "/proc/sys/net/bridge exists", f.FeatureActive("br_netfilter"),
		"use a kernel with CONFIG_BRIDGE_NETFILTER (built in or as the br_netfilter module)")
	feature("overlay", "overlay in /proc/filesystems", f.FeatureActive("overlay"),
		"use a kernel with CONFIG_OVERLAY_FS (containerd's snapshotter needs it)")
	feature("vxlan", "/sys/module/vxlan exists", f.FeatureActive("vxlan"),
		"use a kernel with CONFIG_VXLAN (the pod network's overlay needs it)")

	fwd := f.Sysctls["net.ipv4.ip_forward"]
	r := Result{Host: h.Name, Check: "kernel/ip_forward", Status: OK, Detail: "net.ipv4.ip_forward = 1"}
	switch fwd {
	case "1":
	case "0":
		r.Status, r.Detail = Warn, "net.ipv4.ip_forward = 0"
		r.Fix = "the install sets it to 1 (/etc/sysctl.d); nothing to do unless a policy forbids forwarding"
	default:
		r.Status, r.Detail = Fail, fmt.Sprintf("net.ipv4.ip_forward is unreadable (%s)", fwd)
		r.Fix = "make /proc/sys writable for root (containers: systempaths=unconfined)"
	}
	return append(out, r)
}

// FeatureActive reports whether a kernel feature (br_netfilter, overlay, vxlan) is usable right now, whether built
// in or as a loaded module; the evidence is in /proc and /sys, so kernels without loadable modules count too.
func (f *Facts) FeatureActive(name string) bool {
	switch name {
	case "br_netfilter":
		v, ok := f.Sysctls["net.bridge.bridge-nf-call-iptables"]
		return ok && v != "missing"
	case "overlay":
		return slices.Contains(f.Filesystems, "overlay")
	}
	return f.Modules[name] == "present" || f.Modules[name] == "loaded"
}

// NeedsModprobe reports whether a kernel feature is not active but available as a module the install must load.
func (f *Facts) NeedsModprobe(name string) bool {
	return !f.FeatureActive(name) && f.Modules[name] == "loadable"
}
