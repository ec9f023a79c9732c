package lab

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/berthsh/berth/inventory"
)

// maxIndex is how many labs with default subnets fit side by side: index i puts the planes at
// 172.(30+i/10).(10*plane+i%10).0/24, so lab 0 has 172.30.10.0/24 (management), .20 (control), .30 (storage),
// .40 (business), lab 1 has 172.30.11.0/24, .21, .31, .41, and so on up to 172.31.49.0/24.
const maxIndex = 20

// reservedNets are subnets a lab must never overlap: Docker's default bridge and Kubernetes' default pod and
// service networks (the inventory the lab writes uses them).
var reservedNets = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("172.17.0.0/16"), "Docker's default bridge network"},
	{netip.MustParsePrefix("10.244.0.0/16"), "the Kubernetes pod network"},
	{netip.MustParsePrefix("10.96.0.0/16"), "the Kubernetes service network"},
}

// defaultSubnets returns the plane subnets of the lab with the given index.
func defaultSubnets(index int) map[inventory.PlaneName]netip.Prefix {
	out := map[inventory.PlaneName]netip.Prefix{}
	for i, plane := range inventory.AllPlanes {
		a := netip.AddrFrom4([4]byte{172, byte(30 + index/10), byte(10*(i+1) + index%10), 0})
		out[plane] = netip.PrefixFrom(a, 24)
	}
	return out
}

// takenNet is a subnet already used by something else, and who uses it.
type takenNet struct {
	prefix netip.Prefix
	owner  string
}

// allocateSubnets picks the lab's subnets: the overrides as given, the other planes from the lowest lab index whose
// subnets overlap nothing taken. It returns the index used (-1 when every plane was overridden).
func allocateSubnets(overrides map[inventory.PlaneName]string, taken []takenNet) (map[inventory.PlaneName]netip.Prefix, int, error) {
	fixed := map[inventory.PlaneName]netip.Prefix{}
	for plane, cidr := range overrides {
		p, err := parseSubnet(cidr)
		if err != nil {
			return nil, 0, fmt.Errorf("%s subnet: %w", plane, err)
		}
		fixed[plane] = p
	}
	if err := checkSubnets(fixed, taken); err != nil {
		return nil, 0, err
	}
	if len(fixed) == len(inventory.AllPlanes) {
		return fixed, -1, nil
	}
	for index := 0; index < maxIndex; index++ {
		cand := defaultSubnets(index)
		for plane, p := range fixed {
			cand[plane] = p
		}
		if checkSubnets(cand, taken) == nil {
			return cand, index, nil
		}
	}
	return nil, 0, fmt.Errorf("no free lab subnets left in 172.30.0.0/15 (%d labs or other Docker networks use them): "+
		"remove a lab with `berth lab down`, or give subnets explicitly", maxIndex)
}

// checkSubnets reports the first overlap between the planes, with a reserved network, or with a taken subnet.
func checkSubnets(subnets map[inventory.PlaneName]netip.Prefix, taken []takenNet) error {
	planes := make([]inventory.PlaneName, 0, len(subnets))
	for p := range subnets {
		planes = append(planes, p)
	}
	sort.Slice(planes, func(i, j int) bool { return planeIndex(planes[i]) < planeIndex(planes[j]) })
	for i, a := range planes {
		for _, b := range planes[i+1:] {
			if subnets[a].Overlaps(subnets[b]) {
				return fmt.Errorf("%s subnet %s overlaps the %s subnet %s: give each plane its own subnet", a, subnets[a], b, subnets[b])
			}
		}
		for _, r := range reservedNets {
			if subnets[a].Overlaps(r.prefix) {
				return fmt.Errorf("%s subnet %s overlaps %s %s: choose another subnet", a, subnets[a], r.what, r.prefix)
			}
		}
		for _, t := range taken {
			if subnets[a].Overlaps(t.prefix) {
				return fmt.Errorf("%s subnet %s overlaps %s (%s): choose another subnet or remove it", a, subnets[a], t.owner, t.prefix)
			}
		}
	}
	return nil
}

func planeIndex(p inventory.PlaneName) int {
	for i, q := range inventory.AllPlanes {
		if p == q {
			return i
		}
	}
	return len(inventory.AllPlanes)
}
