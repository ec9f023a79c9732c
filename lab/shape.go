package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/docker/docker/api/types/network"

	"github.com/berthsh/berth/inventory"
)

// ShapeUplink imitates a data centre reached through a thin uplink (a bastion's, say): the management plane's
// bridge on the machine running Docker, the one link everything this machine sends to the lab's hosts crosses, and
// every host's management NIC are limited to rate (tc tbf, "100mbit"). Traffic between hosts on the other planes
// is left alone. The returned function removes the shaping; so does `berth lab down`.
func (l *Lab) ShapeUplink(ctx context.Context, rate string) (undo func() error, err error) {
	nw, err := l.docker.NetworkInspect(ctx, networkName(l.Name, inventory.Management), network.InspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("shape the uplink of lab %s: %w", l.Name, err)
	}
	bridge := "br-" + nw.ID[:12]
	if name := nw.Options["com.docker.network.bridge.name"]; name != "" {
		bridge = name
	}
	tbf := []string{"root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"}
	if out, err := exec.CommandContext(ctx, "tc", append([]string{"qdisc", "replace", "dev", bridge}, tbf...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("shape %s: %v: %s", bridge, err, out)
	}
	undo = func() error {
		out, err := exec.Command("tc", "qdisc", "del", "dev", bridge, "root").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such file") && !strings.Contains(string(out), "Cannot find") {
			return fmt.Errorf("unshape %s: %v: %s", bridge, err, out)
		}
		return nil
	}
	inv, err := l.Inventory()
	if err != nil {
		return undo, err
	}
	for _, h := range l.Hosts {
		ih := inv.Host(h.Name)
		if ih == nil {
			continue
		}
		nic := ih.NICs.Get(inventory.Management)
		if nic == nil {
			continue
		}
		if _, err := l.Exec(ctx, h.Name, append([]string{"tc", "qdisc", "replace", "dev", nic.Interface}, tbf...)...); err != nil {
			return undo, fmt.Errorf("shape %s's %s: %w", h.Name, nic.Interface, err)
		}
	}
	return undo, nil
}
