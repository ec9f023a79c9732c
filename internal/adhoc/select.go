package adhoc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// SelectHosts returns the names of the hosts that carry any of roles and, when names are given, are among them; with
// neither, every host. Unknown roles and host names are errors that list the valid ones.
func SelectHosts(inv *inventory.Inventory, roles []inventory.Role, names []string) ([]string, error) {
	for _, r := range roles {
		if !slices.Contains(inventory.AllRoles, r) {
			return nil, fmt.Errorf("unknown role %q; roles: %s", r, joinRoles(inventory.AllRoles))
		}
	}
	var all []string
	for _, h := range inv.Hosts {
		all = append(all, h.Name)
	}
	for _, n := range names {
		if inv.Host(n) == nil {
			return nil, fmt.Errorf("host %q is not in the inventory; hosts: %s", n, strings.Join(all, ", "))
		}
	}
	var out []string
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		if len(names) > 0 && !slices.Contains(names, h.Name) {
			continue
		}
		if len(roles) > 0 && !slices.ContainsFunc(roles, h.Has) {
			continue
		}
		out = append(out, h.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no host matches roles [%s] and hosts [%s]", joinRoles(roles), strings.Join(names, ", "))
	}
	return out, nil
}

func joinRoles(roles []inventory.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
