package lab

import (
	"fmt"
	"path/filepath"

	"github.com/berthsh/berth/inventory"
)

// buildInventory describes the lab as an inventory: SSH as the sudo user with the lab's key and known_hosts
// (paths relative to the lab directory, where the inventory lives), the four planes, every host with its NICs (one
// per plane, management and storage only for storage hosts), the control-plane VIP at .100 on the control plane,
// and with two or more registry hosts a System registry on storage and a User registry on business, each with its
// VIP at .100 of its plane; berth's host firewall on.
func (l *Lab) buildInventory() *inventory.Inventory {
	inv := &inventory.Inventory{
		APIVersion: inventory.APIVersion,
		Kind:       inventory.Kind,
		Metadata: inventory.Metadata{
			Name:        l.Name,
			Environment: "dev",
			Description: "berth lab " + l.Name + ": sandbox hosts on one machine, written by `berth lab up`",
			Labels:      map[string]string{"berth.sh/lab": l.Name},
		},
		SSH: inventory.SSH{
			User:          l.User,
			Port:          22,
			IdentityFiles: []string{keyFile},
			KnownHosts:    knownHostsFile,
		},
		ControlPlane: inventory.ControlPlane{VIP: l.VIP, VIPPlane: inventory.Control},
		// The bank keeps its planes apart: the lab does too, so every install and test runs behind the firewall.
		Firewall: &inventory.Firewall{Enabled: true},
	}
	for _, plane := range inventory.AllPlanes {
		p := &inventory.Plane{
			CIDR:        l.Subnets[plane].String(),
			Description: fmt.Sprintf("Docker network %s", networkName(l.Name, plane)),
		}
		if plane == inventory.Management {
			p.Gateway = nthAddr(l.Subnets[plane], gatewayOffset).String()
		}
		inv.NetworkPlanes.Set(plane, p)
	}
	var registryHosts []string
	for _, h := range l.Hosts {
		ih := inventory.Host{Name: h.Name, Address: h.Address(), Roles: append([]inventory.Role(nil), h.Roles...)}
		for _, plane := range h.Planes() {
			nic := h.NICs[plane]
			ih.NICs.Set(plane, &inventory.NIC{Interface: nic.Interface, Address: nic.Address})
		}
		inv.Hosts = append(inv.Hosts, ih)
		for _, r := range h.Roles {
			if r == inventory.RoleRegistry {
				registryHosts = append(registryHosts, h.Name)
			}
		}
	}
	if len(registryHosts) > 0 {
		// The reference bank's two registries on their planes: platform images on storage, applications' on
		// business (where application traffic goes), the User registry mirroring Docker Hub's names.
		inv.Registries = []inventory.Registry{
			{Name: "system", Role: inventory.RegistrySystem, Hosts: registryHosts, Plane: inventory.StorageNet},
			{Name: "user", Role: inventory.RegistryUser, Hosts: registryHosts, Plane: inventory.Business, Mirrors: []string{"docker.io"}},
		}
		if len(registryHosts) > 1 { // each behind a VIP, .100 of its plane
			for i := range inv.Registries {
				r := &inv.Registries[i]
				r.VIP = nthAddr(l.Subnets[r.Plane], vipOffset).String()
			}
		}
	}
	return inv
}

// writeInventory writes Dir/inventory.yaml.
func (l *Lab) writeInventory() error {
	data, err := inventory.Marshal(l.buildInventory())
	if err != nil {
		return fmt.Errorf("encode lab inventory: %w", err)
	}
	header := "# Written by `berth lab up --name " + l.Name + "`; rewritten by every `up`. Paths are relative to this file.\n"
	return writeFileAtomic(filepath.Join(l.Dir, inventoryFile), append([]byte(header), data...), 0o644)
}
