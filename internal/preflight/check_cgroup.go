package preflight

import (
	"fmt"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// CgroupVersion returns "v2", "v1" or "v1 (hybrid)".
func (f *Facts) CgroupVersion() string {
	switch {
	case f.CgroupFS == "cgroup2fs":
		return "v2"
	case f.CgroupHybrid:
		return "v1 (hybrid)"
	}
	return "v1"
}

// CgroupDriver returns the cgroup driver containerd and the kubelet should use: systemd where systemd runs the
// host on the unified (v2) hierarchy, cgroupfs otherwise (v1 and hybrid hosts, hosts without systemd).
func (f *Facts) CgroupDriver() string {
	if f.CgroupFS == "cgroup2fs" && f.Init == "systemd" {
		return "systemd"
	}
	return "cgroupfs"
}

// checkCgroup: the controllers the kubelet and runc need must be available.
func checkCgroup(_ *input, h *inventory.Host, f *Facts) []Result {
	var missing []string
	for _, c := range []string{"cpu", "cpuset", "memory", "pids"} {
		if !f.Controllers[c] {
			missing = append(missing, c)
		}
	}
	detail := fmt.Sprintf("cgroup %s, PID 1 is %s: driver %s", f.CgroupVersion(), f.Init, f.CgroupDriver())
	if f.CgroupFS != "cgroup2fs" && f.CgroupFS != "tmpfs" {
		return []Result{{Host: h.Name, Check: "cgroup", Status: Fail, Detail: "no cgroup file system at /sys/fs/cgroup (" + f.CgroupFS + ")",
			Fix: "mount cgroups (boot with systemd, or mount cgroup2 at /sys/fs/cgroup)"}}
	}
	if len(missing) > 0 {
		return []Result{{Host: h.Name, Check: "cgroup", Status: Fail,
			Detail: detail + "; missing controllers: " + strings.Join(missing, ", "),
			Fix:    "enable the controllers (kernel command line cgroup_enable=..., or systemd's delegation)"}}
	}
	return []Result{{Host: h.Name, Check: "cgroup", Status: OK, Detail: detail}}
}
