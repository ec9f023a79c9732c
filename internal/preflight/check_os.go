package preflight

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// checkOS: the OS must be one the bundle's packages are built for, the kernel recent enough for Kubernetes, and
// systemd the init.
func checkOS(in *input, h *inventory.Host, f *Facts) []Result {
	var out []Result
	os := Result{Host: h.Name, Check: "os", Status: OK, Detail: f.OSName}
	if want, ok := in.limits.OS[f.OSID]; !ok || want != f.OSVersion {
		os.Status = Warn
		os.Detail = fmt.Sprintf("%s (%s %s) is not a target of the bundle's OS packages", f.OSName, f.OSID, f.OSVersion)
		os.Fix = "use " + supported(in.limits.OS) + ", or a bundle built for this OS"
	}
	out = append(out, os)
	k := Result{Host: h.Name, Check: "kernel", Status: OK, Detail: f.Kernel}
	if !versionAtLeast(f.Kernel, in.limits.MinKernel) {
		k.Status = Fail
		k.Detail = fmt.Sprintf("kernel %s is older than %s", f.Kernel, in.limits.MinKernel)
		k.Fix = "upgrade the kernel to " + in.limits.MinKernel + " or later"
	}
	out = append(out, k)
	// containerd, the kubelet, keepalived, haproxy and dnsmasq run as systemd services, and berth enables them
	// for systemd alone (not in SysV rc links).
	pid1 := Result{Host: h.Name, Check: "init", Status: OK, Detail: "PID 1 is " + f.Init}
	if f.Init != "systemd" {
		pid1.Status = Fail
		pid1.Detail = fmt.Sprintf("PID 1 is %q, not systemd: berth runs the node's services as systemd units", f.Init)
		pid1.Fix = "boot the host with systemd as init"
	}
	return append(out, pid1)
}

func supported(m map[string]string) string {
	var s []string
	for id, v := range m {
		s = append(s, id+" "+v)
	}
	return strings.Join(s, " or ")
}

// versionAtLeast compares dotted numeric prefixes: "6.1.0-18-amd64" >= "4.19".
func versionAtLeast(have, want string) bool {
	hp, wp := numbers(have), numbers(want)
	for i := range wp {
		if i >= len(hp) {
			return false
		}
		if hp[i] != wp[i] {
			return hp[i] > wp[i]
		}
	}
	return true
}

func numbers(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, _ := strconv.Atoi(p[:end])
		out = append(out, n)
		if end < len(p) {
			break
		}
	}
	return out
}
