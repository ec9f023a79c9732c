package inventory

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
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
	defined := inv.NetworkPlanes.Defined()
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
				v.errorf(path+".address", fmt.Sprintf("give every host its own address (hosts[%d] %s has it)", j, inv.Hosts[j].Name),
					"duplicate host address %s", h.Address)
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
		v.nics(h, path, defined, nicAddrs)
		for k, val := range h.Labels {
			if !labelKeyRe.MatchString(k) {
				v.errorf(path+".labels."+k, "use a Kubernetes label key: [prefix/]name, name up to 63 characters", "invalid label key %q", k)
			}
			if !labelValRe.MatchString(val) {
				v.errorf(path+".labels."+k, "use up to 63 letters, digits, '-', '_' or '.'", "invalid label value %q", val)
			}
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

func (v *validator) nics(h Host, path string, defined []PlaneName, seen map[string]string) {
	ifaces := map[string]PlaneName{}
	for _, plane := range AllPlanes {
		nic := h.NICs.Get(plane)
		np := path + ".nics." + string(plane)
		if nic == nil {
			if slices.Contains(defined, plane) && len(h.Roles) > 0 {
				v.errorf(path+".nics", fmt.Sprintf("add nics.%s with the interface and address host %s has on that plane", plane, h.Name),
					"host %s has no NIC on plane %q", h.Name, plane)
			}
			continue
		}
		if !slices.Contains(defined, plane) {
			v.add(SeverityError, np, true, fmt.Sprintf("define networkPlanes.%s or remove this NIC", plane),
				"NIC on plane %q, which networkPlanes does not define", plane)
			continue
		}
		if nic.Interface != "" {
			if !ifaceRe.MatchString(nic.Interface) {
				v.errorf(np+".interface", "use the interface name as `ip link` shows it (at most 15 characters)",
					"%q is not an interface name", nic.Interface)
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
			v.errorf(np+".address", "give every NIC its own address", "address %s is already used by %s", a, owner)
		} else {
			seen[nic.Address] = fmt.Sprintf("host %s (plane %s)", h.Name, plane)
		}
	}
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
	if b := s.Bastion; b != nil {
		v.port(b.Port, "ssh.bastion.port")
		if b.HostKey != "" {
			v.fingerprint(b.HostKey, "ssh.bastion.hostKey")
		} else if s.KnownHosts == "" && !slices.ContainsFunc(s.HostKeys, func(p HostPins) bool { return p.Address == b.Address }) {
			v.errorf("ssh.bastion", "set ssh.bastion.hostKey or list the bastion in ssh.knownHosts",
				"no way to verify the bastion's host key")
		}
	}
}
