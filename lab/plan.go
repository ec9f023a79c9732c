package lab

import (
	"fmt"
	"net/netip"

	"github.com/berthsh/berth/inventory"
)

// Host offsets inside every plane subnet: .1 is the Docker gateway (the machine running the lab), control planes
// take .11-.19, workers .21-.29, registries .31-.39, storage hosts .41-.49, and the control-plane VIP is .100 on
// the control plane.
const (
	gatewayOffset = 1
	vipOffset     = 100
)

var roleOffsets = []struct {
	role   inventory.Role
	prefix string
	first  int
}{
	{inventory.RoleControlPlane, "cp", 11},
	{inventory.RoleWorker, "worker", 21},
	{inventory.RoleRegistry, "registry", 31},
	{inventory.RoleStorage, "storage", 41},
}

// storageZone are the planes of a host in the storage zone: no control or business NIC.
var storageZone = []inventory.PlaneName{inventory.Management, inventory.StorageNet}

// planesOf returns the planes a host of a role has a NIC on: the storage zone's for storage hosts, all four for
// the others.
func planesOf(role inventory.Role) []inventory.PlaneName {
	if role == inventory.RoleStorage {
		return storageZone
	}
	return inventory.AllPlanes
}

// hostSpec is one host of a lab's shape.
type hostSpec struct {
	Name   string
	Role   inventory.Role
	Offset int // host part of its address on every plane
}

// planHosts lists the hosts of a lab shape in a stable order: control planes, workers, registries, storage hosts.
func planHosts(controlPlanes, workers, registries, storage int) []hostSpec {
	counts := []int{controlPlanes, workers, registries, storage}
	var out []hostSpec
	for i, r := range roleOffsets {
		for n := 1; n <= counts[i]; n++ {
			out = append(out, hostSpec{Name: fmt.Sprintf("%s%d", r.prefix, n), Role: r.role, Offset: r.first + n - 1})
		}
	}
	return out
}

// interfaceName is the stable name of a plane's NIC inside every host: eth0 management, eth1 control, eth2 storage,
// eth3 business.
func interfaceName(plane inventory.PlaneName) string {
	for i, p := range inventory.AllPlanes {
		if p == plane {
			return fmt.Sprintf("eth%d", i)
		}
	}
	return ""
}

// nthAddr returns the address offset hosts after the network address of p.
func nthAddr(p netip.Prefix, offset int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(offset)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// buildHosts turns a shape and the lab's subnets into hosts with their NICs (planesOf their role).
func buildHosts(lab string, specs []hostSpec, subnets map[inventory.PlaneName]netip.Prefix) []Host {
	hosts := make([]Host, 0, len(specs))
	for _, s := range specs {
		h := Host{Name: s.Name, Container: containerName(lab, s.Name), Roles: []inventory.Role{s.Role},
			NICs: map[inventory.PlaneName]NIC{}}
		for _, plane := range planesOf(s.Role) {
			h.NICs[plane] = NIC{Interface: interfaceName(plane), Address: nthAddr(subnets[plane], s.Offset).String()}
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// Names of the Docker objects of a lab.
func containerName(lab, host string) string { return "berth-" + lab + "-" + host }

func networkName(lab string, plane inventory.PlaneName) string {
	return "berth-" + lab + "-" + string(plane)
}

func volumeName(lab, host, purpose string) string { return "berth-" + lab + "-" + host + "-" + purpose }
