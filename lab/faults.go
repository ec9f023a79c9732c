package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/berthsh/berth/inventory"
)

// stopTimeout is how long systemd gets to shut a host down before Docker kills it.
const stopTimeout = 20

// StopHost shuts a host down (systemd stops its services, like a power-off from the OS).
func (l *Lab) StopHost(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	timeout := stopTimeout
	err = l.docker.ContainerStop(ctx, h.Container, container.StopOptions{Timeout: &timeout})
	if err != nil {
		// A cgroup runc left frozen holds processes that cannot die (see thawHost): thaw, and stop again.
		if n, terr := thawHost(ctx, l.docker, h.Container); terr == nil && n > 0 {
			err = l.docker.ContainerStop(ctx, h.Container, container.StopOptions{Timeout: &timeout})
		}
	}
	if err != nil {
		return fmt.Errorf("stop host %s: %w", host, err)
	}
	return nil
}

// StartHost boots a stopped host and waits until its sshd answers again. Its host keys, files and volumes are the
// same as before the stop.
func (l *Lab) StartHost(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if err := l.docker.ContainerStart(ctx, h.Container, container.StartOptions{}); err != nil {
		return fmt.Errorf("start host %s: %w", host, err)
	}
	if _, err := l.waitReady(ctx, h); err != nil {
		return fmt.Errorf("start host %s: %w", host, err)
	}
	return nil
}

// DisconnectNIC pulls the cable of a host's NIC on one plane: the interface stays in the host with its address but
// loses its carrier, and nothing passes until ReconnectNIC. The switch side of the cable (the veth end on the
// machine running Docker) is what goes down, so root on the host cannot plug it back in. A restart of the host
// (StopHost, StartHost) plugs every NIC back in, as Docker wires a starting container anew.
func (l *Lab) DisconnectNIC(ctx context.Context, host string, plane inventory.PlaneName) error {
	return l.setCable(ctx, host, plane, false)
}

// ReconnectNIC plugs a NIC pulled by DisconnectNIC back in: same interface, same address.
func (l *Lab) ReconnectNIC(ctx context.Context, host string, plane inventory.PlaneName) error {
	return l.setCable(ctx, host, plane, true)
}

func (l *Lab) setCable(ctx context.Context, host string, plane inventory.PlaneName, up bool) error {
	verb, state := "disconnect", "down"
	if up {
		verb, state = "reconnect", "up"
	}
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if !isPlane(plane) {
		return fmt.Errorf("%s %s: unknown plane %q: use management, control, storage or business", verb, host, plane)
	}
	peers, err := l.cablePeers(ctx, h)
	if err != nil {
		return fmt.Errorf("%s %s on the %s plane: %w", verb, host, plane, err)
	}
	if _, ok := h.NICs[plane]; !ok {
		return fmt.Errorf("%s %s on the %s plane: the host has no NIC on that plane (it has %v)", verb, host, plane, h.Planes())
	}
	peer := peers[plane]
	if peer == nil {
		return fmt.Errorf("%s %s on the %s plane: %s is not attached to the plane's network", verb, host, plane, h.NICs[plane].Interface)
	}
	if _, err := run(ctx, "ip", "link", "set", "dev", peer.Name, state); err != nil {
		return fmt.Errorf("%s %s on the %s plane: %w", verb, host, plane, err)
	}
	l.log.Info(verb+"ed NIC", "host", host, "plane", plane, "interface", h.NICs[plane].Interface)
	return nil
}

// cablePeers finds, for each plane NIC of a running host, the other end of its veth pair on this machine.
func (l *Lab) cablePeers(ctx context.Context, h *Host) (map[inventory.PlaneName]*net.Interface, error) {
	var script strings.Builder
	for _, plane := range h.Planes() {
		fmt.Fprintf(&script, "echo %s $(cat /sys/class/net/%s/iflink 2>/dev/null || echo 0); ", plane, h.NICs[plane].Interface)
	}
	out, err := mustExec(ctx, l.docker, h.Container, "sh", "-c", script.String())
	if err != nil {
		return nil, fmt.Errorf("host %s is not running: %w", h.Name, err)
	}
	peers := map[inventory.PlaneName]*net.Interface{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		idx, err := strconv.Atoi(f[1])
		if err != nil || idx == 0 {
			continue
		}
		ifc, err := net.InterfaceByIndex(idx)
		if err != nil {
			return nil, fmt.Errorf("find the veth of %s on this machine (the lab needs the Docker engine to run here): %w", h.Name, err)
		}
		peers[inventory.PlaneName(f[0])] = ifc
	}
	return peers, nil
}

// BlockEgress cuts a host off from everything but the lab: only the lab's plane subnets (and the host's loopback)
// stay reachable, and connections made to the host (SSH from berth) keep working. The rules live on the machine
// that runs Docker (iptables, see egress.go), where root on the host cannot remove them; they also stop traffic
// of pods on the host that leaves without being masqueraded.
func (l *Lab) BlockEgress(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	var addrs []netip.Addr
	for _, plane := range h.Planes() {
		addrs = append(addrs, netip.MustParseAddr(h.NICs[plane].Address))
	}
	bridges := map[string]netip.Prefix{}
	for _, plane := range inventory.AllPlanes {
		n, err := l.docker.NetworkInspect(ctx, networkName(l.Name, plane), network.InspectOptions{})
		if err != nil {
			return fmt.Errorf("block egress of %s: %w", host, err)
		}
		br := n.Options["com.docker.network.bridge.name"]
		if br == "" {
			br = "br-" + n.ID[:12]
		}
		bridges[br] = l.Subnets[plane]
	}
	subnets := l.subnetList()
	lock, err := egressLock(ctx)
	if err != nil {
		return err
	}
	defer lock.unlock()
	if err := ensureChains(ctx); err != nil {
		return err
	}
	if hasRule(ctx, chainFwd, egressComment(l.Name, host)) {
		return nil
	}
	fwd, in := egressRules(l.Name, host, addrs, subnets)
	if !hasRule(ctx, chainFwd, egressComment(l.Name, podsComment)) {
		fwd = append(fwd, podRules(l.Name, bridges, subnets)...)
	}
	for _, r := range fwd {
		if _, err := iptables(ctx, append([]string{"-A", chainFwd}, r...)...); err != nil {
			return fmt.Errorf("block egress of %s: %w", host, err)
		}
	}
	for _, r := range in {
		if _, err := iptables(ctx, append([]string{"-A", chainIn}, r...)...); err != nil {
			return fmt.Errorf("block egress of %s: %w", host, err)
		}
	}
	l.log.Info("blocked egress", "host", host, "allowed", subnets)
	return nil
}

// UnblockEgress removes what BlockEgress added for a host.
func (l *Lab) UnblockEgress(ctx context.Context, host string) error {
	if _, err := l.Host(host); err != nil {
		return err
	}
	if err := removeEgressRules(ctx, l.Name, host); err != nil {
		return fmt.Errorf("unblock egress of %s: %w", host, err)
	}
	return nil
}

func (l *Lab) subnetList() []netip.Prefix {
	var out []netip.Prefix
	for _, plane := range inventory.AllPlanes {
		out = append(out, l.Subnets[plane])
	}
	return out
}

func hasRule(ctx context.Context, chain, comment string) bool {
	for _, r := range chainRules(ctx, chain) {
		if hasComment(r, comment) {
			return true
		}
	}
	return false
}

// egressBlocked reports whether a host's egress is blocked.
func (l *Lab) egressBlocked(ctx context.Context, host string) bool {
	return hasRule(ctx, chainFwd, egressComment(l.Name, host))
}
