package preflight

import (
	"fmt"

	"github.com/berthsh/berth/inventory"
)

// checkResources: CPUs and memory by role (kubeadm's minimums for control planes), free disk under /var/lib.
func checkResources(in *input, h *inventory.Host, f *Facts) []Result {
	l := in.limits
	cpus, mem, role := l.WorkerCPUs, l.WorkerMemory, "node"
	if h.Has(inventory.RoleControlPlane) {
		cpus, mem, role = l.ControlPlaneCPUs, l.ControlPlaneMemory, "control plane"
	}
	var out []Result
	r := Result{Host: h.Name, Check: "cpu", Status: OK, Detail: fmt.Sprintf("%d CPUs", f.CPUs)}
	if f.CPUs < cpus {
		r.Status, r.Detail = Fail, fmt.Sprintf("%d CPUs, a %s needs at least %d", f.CPUs, role, cpus)
		r.Fix = fmt.Sprintf("give the host %d or more CPUs", cpus)
	}
	out = append(out, r)
	r = Result{Host: h.Name, Check: "memory", Status: OK, Detail: size(f.MemoryBytes)}
	if f.MemoryBytes < mem {
		r.Status, r.Detail = Fail, fmt.Sprintf("%s, a %s needs at least %s", size(f.MemoryBytes), role, size(mem))
		r.Fix = "give the host " + size(mem) + " or more memory"
	}
	out = append(out, r)
	r = Result{Host: h.Name, Check: "disk", Status: OK, Detail: size(f.DiskFreeBytes) + " free under /var/lib"}
	if f.DiskFreeBytes < l.DiskFree {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s free under /var/lib, need %s (images, etcd, logs)", size(f.DiskFreeBytes), size(l.DiskFree))
		r.Fix = "free or add space on the file system holding /var/lib"
	}
	return append(out, r)
}

func size(b int64) string {
	const gib = 1 << 30
	if b >= gib {
		return fmt.Sprintf("%.1f GiB", float64(b)/gib)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}
