package inventory

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	ifaceRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$`)
	labelKeyRe = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValRe = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

func (v *validator) hosts() {
	inv := v.inv
	names := map[string]int{}
	addrs := map[string]int{}
	nicAddrs := map[string]string{} // address -> "host plane"
	used := inv.usedAddresses()
	for i, h := range inv.Hosts {
		path := fmt.Sprintf("hosts[%d]", i)
		if h.Name != "" {
			if !dnsLabel(h.Name, 63) {
				v.errorf(path+".name", "use lower case letters, digits and '-', starting with a letter (it becomes the node name)",
					"%q is not a valid host name", h.Name)
			}
			if j, dup := names[h.Name]; dup {
				v.errorf(path+".name", fmt.Sprintf("give every host its own name (hosts[%d] is already %s)", j, h.Name),
					"duplicate host name %q", h.Name)
			} else {
				names[h.Name] = i
			}
		}
		if h.Address != "" {
			if j, dup := addrs[h.Address]; dup {
				v.errorf(path+".address", duplicateAddressFix(inv, i, j), "duplicate host address %s", h.Address)
			} else {
				addrs[h.Address] = i
			}
			if a, err := netip.ParseAddr(h.Address); err == nil && h.NICs.Management != nil && h.NICs.Management.Address != h.Address {
				if pfx, ok := inv.NetworkPlanes.Prefix(Management); ok && !pfx.Contains(a) {
					v.warnf(path+".address", "use the management NIC's address unless a bastion or NAT sits in between",
						"SSH address %s is outside plane \"management\" (%s)", a, pfx)
				}
			} else if err != nil && !dnsNameRe.MatchString(h.Address) {
				v.errorf(path+".address", "write an IPv4 address or a DNS name", "%q is neither an address nor a DNS name", h.Address)
			}
		}
		v.roles(h, path)
		v.nics(&inv.Hosts[i], path, nicAddrs, used)
		for k, val := range h.Labels {
			if !labelKeyRe.MatchString(k) {
				v.errorf(path+".labels."+k, "use a Kubernetes label key: [prefix/]name, name up to 63 characters", "invalid label key %q", k)
			}
			if !labelValRe.MatchString(val) {
				v.errorf(path+".labels."+k, "use up to 63 letters, digits, '-', '_' or '.'", "invalid label value %q", val)
			}
		}
		if !h.IsNode() && len(h.Roles) > 0 && !v.unsure[h.Name] && (len(h.Labels) > 0 || len(h.Taints) > 0) {
			v.warnf(path+".roles", "remove the labels and taints, or make the host a worker",
				"host %s is not a Kubernetes node (roles %v): its labels and taints are never applied", h.Name, h.Roles)
		}
		for j, t := range h.Taints {
			if msg := checkTaint(t); msg != "" {
				v.errorf(fmt.Sprintf("%s.taints[%d]", path, j), "write key[=value]:Effect, Effect one of NoSchedule, PreferNoSchedule, NoExecute", "%s", msg)
			}
		}
		if o := h.SSH; o != nil {
			if o.Port != 0 {
				v.port(o.Port, path+".ssh.port")
			}
			for j, fp := range o.HostKeys {
				v.fingerprint(fp, fmt.Sprintf("%s.ssh.hostKeys[%d]", path, j))
			}
			if o.Bastion != nil {
				v.bastion(o.Bastion, path+".ssh.bastion")
			}
		}
	}
}

func (v *validator) roles(h Host, path string) {
	seen := map[Role]bool{}
	for j, r := range h.Roles {
		if seen[r] {
			v.errorf(fmt.Sprintf("%s.roles[%d]", path, j), "list each role once", "role %q is listed twice", r)
		}
		seen[r] = true
	}
	if seen[RoleEtcd] && !seen[RoleControlPlane] {
		v.errorf(path+".roles", "berth runs etcd stacked on control planes: add control-plane or remove etcd",
			"host %s has the etcd role without control-plane", h.Name)
	}
}

// nics checks a host's NICs: one on every plane its roles need (PlanesFor), none on a plane that is not defined,
// each with its own interface (a VLAN in its name matching the plane's) and an address of the plane that no other
// NIC has.
func (v *validator) nics(h *Host, path string, seen map[string]string, used map[string]bool) {
	needs := map[PlaneName]PlaneNeed{}
	for _, n := range v.inv.PlanesFor(h) {
		needs[n.Plane] = n
	}
	ifaces := map[string]PlaneName{}
	for _, plane := range AllPlanes {
		nic := h.NICs.Get(plane)
		np := path + ".nics." + string(plane)
		if nic == nil {
			if n, need := needs[plane]; need && len(h.Roles) > 0 {
				v.errorf(path+".nics", v.missingNICFix(h, n),
					"host %s has no NIC on plane %q: %s needs one for %s", h.Name, plane, n.Role, n.For)
			}
			continue
		}
		if v.inv.NetworkPlanes.Get(plane) == nil {
			v.add(SeverityError, np, true, fmt.Sprintf("define networkPlanes.%s or remove this NIC", plane),
				"NIC on plane %q, which networkPlanes does not define", plane)
			continue
		}
		if nic.Interface != "" {
			if !ifaceRe.MatchString(nic.Interface) {
				v.errorf(np+".interface", "use the interface name as `ip link` shows it (at most 15 characters)",
					"%q is not an interface name", nic.Interface)
			} else {
				v.vlanOf(nic.Interface, plane, np+".interface")
			}
			if other, dup := ifaces[nic.Interface]; dup {
				v.errorf(np+".interface", "give each plane its own interface (a VLAN sub-interface such as bond0.200 is fine)",
					"interface %s is already the %s NIC", nic.Interface, other)
			}
			ifaces[nic.Interface] = plane
		}
		if nic.Address == "" {
			continue
		}
		a, ok := v.parseAddr(nic.Address, np+".address")
		if !ok {
			continue
		}
		if pfx, ok := v.inv.NetworkPlanes.Prefix(plane); ok && !usable(pfx, a) {
			v.errorf(np+".address", fmt.Sprintf("use an address inside %s, or correct networkPlanes.%s.cidr", pfx, plane),
				"%s is outside plane %q (%s)", a, plane, pfx)
		}
		if owner, dup := seen[nic.Address]; dup {
			fix := "give every NIC its own address"
			if alt := v.sameHostPart(h, plane, used); alt != "" {
				fix = fmt.Sprintf("did you mean %s? It has the host part of %s's address %s on plane %s, and no host uses it", alt, h.Name, h.Address, plane)
			}
			v.errorf(np+".address", fix, "address %s is already used by %s", a, owner)
		} else {
			seen[nic.Address] = fmt.Sprintf("host %s (plane %s)", h.Name, plane)
		}
	}
}

// missingNICFix says what to add for a NIC a host's roles need, and what the alternative is.
func (v *validator) missingNICFix(h *Host, n PlaneNeed) string {
	where := ""
	if pfx, ok := v.inv.NetworkPlanes.Prefix(n.Plane); ok {
		where = " inside " + pfx.String()
	}
	fix := fmt.Sprintf("add nics.%s: {interface: NAME, address: ADDRESS} with %s's interface on the %s plane and its address%s",
		n.Plane, h.Name, n.Plane, where)
	switch {
	case n.Plane == Management:
	case h.IsNode():
		fix += fmt.Sprintf("; a host without one cannot be %s (a host with only the registry or storage role needs only management and storage NICs)", n.Role)
	default:
		fix += fmt.Sprintf("; a host without one cannot be %s", n.Role)
	}
	return fix
}

// vlanOf checks the VLAN a sub-interface's name carries (bond0.130 is VLAN 130) against the plane's vlan.
func (v *validator) vlanOf(iface string, plane PlaneName, path string) {
	p := v.inv.NetworkPlanes.Get(plane)
	dot := strings.LastIndexByte(iface, '.')
	if p == nil || p.VLAN == 0 || dot <= 0 {
		return
	}
	id, err := strconv.Atoi(iface[dot+1:])
	if err != nil || id < 1 || id > 4094 || id == p.VLAN {
		return
	}
	v.errorf(path, fmt.Sprintf("use the sub-interface of VLAN %d (%s.%d), or correct networkPlanes.%s.vlan", p.VLAN, iface[:dot], p.VLAN, plane),
		"interface %s is on VLAN %d, but plane %s is VLAN %d", iface, id, plane, p.VLAN)
}

// usedAddresses returns every address the inventory gives a host, a NIC or a VIP.
func (inv *Inventory) usedAddresses() map[string]bool {
	used := map[string]bool{inv.ControlPlane.VIP: true}
	for _, r := range inv.Registries {
		used[r.VIP] = true
	}
	for _, h := range inv.Hosts {
		used[h.Address] = true
		for _, p := range AllPlanes {
			used[h.AddressOn(p)] = true
		}
	}
	return used
}

// duplicateAddressFix suggests, for hosts[i] whose SSH address hosts[j] has too, the management NIC address of
// whichever of the two does not use its own, when no other host dials that address.
func duplicateAddressFix(inv *Inventory, i, j int) string {
	h, other := &inv.Hosts[i], &inv.Hosts[j]
	dialled := func(a string) bool {
		return slices.ContainsFunc(inv.Hosts, func(x Host) bool { return x.Address == a })
	}
	if own := h.AddressOn(Management); own != "" && own != h.Address && !dialled(own) {
		return fmt.Sprintf("did you mean %s, the address of %s's management NIC? (hosts[%d] %s has %s)", own, h.Name, j, other.Name, h.Address)
	}
	if own := other.AddressOn(Management); own != "" && own != other.Address && !dialled(own) {
		return fmt.Sprintf("hosts[%d] %s has it too, but its management NIC is %s: did you mean hosts[%d].address: %s?", j, other.Name, own, j, own)
	}
	return fmt.Sprintf("give every host its own address (hosts[%d] %s has it)", j, other.Name)
}

// sameHostPart returns the address of plane whose host part is that of h's SSH address on the management plane
// (10.20.0.21 for 10.10.0.21 when management is 10.10.0.0/24 and the plane 10.20.0.0/24), when no one uses it.
func (v *validator) sameHostPart(h *Host, plane PlaneName, used map[string]bool) string {
	mgmt, ok1 := v.inv.NetworkPlanes.Prefix(Management)
	pfx, ok2 := v.inv.NetworkPlanes.Prefix(plane)
	a, err := netip.ParseAddr(h.Address)
	if !ok1 || !ok2 || err != nil || !a.Is4() || !mgmt.Contains(a) || !pfx.Addr().Is4() {
		return ""
	}
	host := u32(a) &^ u32(mgmt.Masked().Addr())
	cand := u32(pfx.Masked().Addr()) | host
	alt := netip.AddrFrom4([4]byte{byte(cand >> 24), byte(cand >> 16), byte(cand >> 8), byte(cand)})
	if !usable(pfx, alt) || used[alt.String()] || u32(alt)&^u32(pfx.Masked().Addr()) != host {
		return ""
	}
	return alt.String()
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func checkTaint(t string) string {
	kv, effect, ok := strings.Cut(t, ":")
	if !ok {
		return fmt.Sprintf("taint %q has no effect", t)
	}
	if !slices.Contains([]string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, effect) {
		return fmt.Sprintf("taint %q has unknown effect %q", t, effect)
	}
	key, val, _ := strings.Cut(kv, "=")
	if !labelKeyRe.MatchString(key) || !labelValRe.MatchString(val) {
		return fmt.Sprintf("taint %q has an invalid key or value", t)
	}
	return ""
}

// fingerprint checks a pinned host-key fingerprint as ssh-keygen -lf prints it.
func (v *validator) fingerprint(fp, path string) {
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if !ok || err != nil || len(raw) != 32 {
		v.errorf(path, "copy the SHA256:... fingerprint printed by `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host",
			"%q is not a SHA256 host-key fingerprint", fp)
	}
}

func (v *validator) ssh() {
	s := v.inv.SSH
	v.port(s.Port, "ssh.port")
	if s.ConnectTimeout < 0 || s.Keepalive < 0 {
		v.errorf("ssh", "use positive durations", "negative ssh timeout")
	}
	// Every host needs a way to authenticate and a way to verify its key.
	for i, h := range v.inv.Hosts {
		t := v.inv.SSHFor(&v.inv.Hosts[i])
		if len(t.IdentityFiles) == 0 && !t.Agent && t.PasswordFrom.IsZero() {
			v.errorf("ssh", "set ssh.identityFiles, ssh.agent: true or ssh.passwordFrom",
				"host %s has no way to authenticate", h.Name)
			break
		}
	}
	if s.KnownHosts == "" {
		var unpinned []string
		for i, h := range v.inv.Hosts {
			if len(v.inv.SSHFor(&v.inv.Hosts[i]).HostKeys) == 0 {
				unpinned = append(unpinned, h.Name)
			}
		}
		if len(unpinned) > 0 {
			v.errorf("ssh", "set ssh.knownHosts to a known_hosts file, or pin hosts[].ssh.hostKeys; berth never trusts an unknown key",
				"no way to verify the host keys of %s", strings.Join(unpinned, ", "))
		}
	}
	for i, pin := range s.HostKeys {
		for j, fp := range pin.Fingerprints {
			v.fingerprint(fp, fmt.Sprintf("ssh.hostKeys[%d].fingerprints[%d]", i, j))
		}
	}
	if s.Bastion != nil {
		v.bastion(s.Bastion, "ssh.bastion")
	}
	v.sudoPasswords()
}

// bastion checks a jump host (ssh.bastion or hosts[].ssh.bastion at path): an address berth can dial, a port, and
// a way to verify its host key.
func (v *validator) bastion(b *Bastion, path string) {
	s := v.inv.SSH
	v.port(b.Port, path+".port")
	if b.Address != "" {
		v.dialAddress(b.Address, path+".address")
	}
	if b.HostKey != "" {
		v.fingerprint(b.HostKey, path+".hostKey")
	} else if s.KnownHosts == "" && !slices.ContainsFunc(s.HostKeys, func(p HostPins) bool { return p.Address == b.Address }) {
		v.errorf(path, "set "+path+".hostKey, or list the bastion in ssh.knownHosts",
			"no way to verify the bastion's host key")
	}
}

// dialAddress checks an address berth dials: an IPv4 address or a DNS name, without a port or a user in it.
func (v *validator) dialAddress(addr, path string) {
	parent := parentPath(path)
	if user, host, ok := strings.Cut(addr, "@"); ok {
		v.errorf(path, fmt.Sprintf("write the address alone (%s) and the user in %s.user (%s)", host, parent, user),
			"%q has a user in it", addr)
		return
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		v.errorf(path, fmt.Sprintf("write the address alone (%s) and the port in %s.port (%s)", host, parent, port),
			"%q has a port in it", addr)
		return
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		if !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
			v.errorf(path, "write the IPv4 address of the jump host, such as 10.10.0.5", "%s is not an address a host can have", a)
		}
		return
	}
	if !dnsNameRe.MatchString(addr) || len(addr) > 253 {
		v.errorf(path, "write an IPv4 address (10.10.0.5) or a DNS name (jump.example.bank)", "%q is neither an address nor a DNS name", addr)
	}
}

// sudoPasswords warns about sudo passwords that no command would use: on hosts that log in as root or turn sudo off.
func (v *validator) sudoPasswords() {
	anySudo := false
	for i := range v.inv.Hosts {
		h := &v.inv.Hosts[i]
		t := v.inv.SSHFor(h)
		anySudo = anySudo || t.Sudo
		if h.SSH != nil && !h.SSH.SudoPasswordFrom.IsZero() && !t.Sudo {
			v.warnf(fmt.Sprintf("hosts[%d].ssh.sudoPasswordFrom", i), "remove it, or set sudo: true for the host",
				"host %s does not use sudo (it logs in as %s), so its sudo password is never used", h.Name, t.User)
		}
	}
	if !v.inv.SSH.SudoPasswordFrom.IsZero() && !anySudo && len(v.inv.Hosts) > 0 {
		v.warnf("ssh.sudoPasswordFrom", "remove it, or log in as a user that uses sudo",
			"no host uses sudo, so the sudo password is never used")
	}
}
