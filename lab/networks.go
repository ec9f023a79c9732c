package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/berthsh/berth/inventory"
)

// dockerSubnets lists the subnets of every Docker network except the lab's own, for collision checks.
func dockerSubnets(ctx context.Context, cli *client.Client, lab string) ([]takenNet, error) {
	nets, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Docker networks: %w", err)
	}
	var out []takenNet
	for _, n := range nets {
		if n.Labels[labelLab] == lab {
			continue
		}
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				out = append(out, takenNet{p, "Docker network " + n.Name})
			}
		}
	}
	return out, nil
}

// ensureNetworks creates the lab's four plane networks unless they exist with the right subnets. Only the
// management plane has a way out (Docker's gateway and NAT, so hosts can be reached from this machine and their
// default route is on management, like a server's); the other planes are internal networks.
func (l *Lab) ensureNetworks(ctx context.Context, labels map[string]string) error {
	for _, plane := range inventory.AllPlanes {
		name := networkName(l.Name, plane)
		subnet := l.Subnets[plane]
		existing, err := l.docker.NetworkInspect(ctx, name, network.InspectOptions{})
		if err == nil {
			if existing.Labels[labelLab] != l.Name {
				return fmt.Errorf("network %s exists but does not belong to lab %s: remove it with `docker network rm %s`", name, l.Name, name)
			}
			if len(existing.IPAM.Config) == 0 || existing.IPAM.Config[0].Subnet != subnet.String() {
				return fmt.Errorf("lab %s: network %s has another subnet than %s: run `berth lab down --name %s` first to change subnets",
					l.Name, name, subnet, l.Name)
			}
			continue
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect network %s: %w", name, err)
		}
		_, err = l.docker.NetworkCreate(ctx, name, network.CreateOptions{
			Driver:   "bridge",
			Internal: plane != inventory.Management,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  subnet.String(),
				Gateway: nthAddr(subnet, gatewayOffset).String(),
			}}},
			Labels: withLabel(labels, labelPlane, string(plane)),
		})
		if err != nil {
			return fmt.Errorf("create network %s (%s): %w", name, subnet, err)
		}
	}
	return nil
}

// isOverlap reports whether a network create failed because another network holds the subnet, which happens when
// two labs in different state directories pick the same free subnets at the same moment.
func isOverlap(err error) bool {
	return err != nil && strings.Contains(err.Error(), "overlaps")
}

// removeNetworks removes the lab's networks (found by label). Docker sometimes keeps an endpoint of a container
// that is already gone and then refuses to remove the network; such endpoints are disconnected by force and the
// removal retried for a few seconds before giving up with the fix.
func removeNetworks(ctx context.Context, cli *client.Client, lab string) error {
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: labFilter(lab)})
	if err != nil {
		return fmt.Errorf("list networks of lab %s: %w", lab, err)
	}
	for _, n := range nets {
		if err := removeNetwork(ctx, cli, n.ID, n.Name); err != nil {
			return err
		}
	}
	return nil
}

// staleEndpointWait bounds how long a network removal waits for Docker to let go of endpoints.
const staleEndpointWait = 15 * time.Second

func removeNetwork(ctx context.Context, cli *client.Client, id, name string) error {
	deadline := time.Now().Add(staleEndpointWait)
	for {
		err := cli.NetworkRemove(ctx, id)
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "active endpoints") {
			return fmt.Errorf("remove network %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove network %s: %w (Docker still holds endpoints of removed containers: "+
				"disconnect them with `docker network disconnect -f %s <endpoint>` or restart the Docker engine, "+
				"then run `berth lab down` again)", name, err, name)
		}
		if n, ierr := cli.NetworkInspect(ctx, id, network.InspectOptions{}); ierr == nil {
			for ep, c := range n.Containers {
				target := c.Name
				if target == "" {
					target = ep
				}
				// Force also detaches endpoints whose container no longer exists; errors are retried above.
				_ = cli.NetworkDisconnect(ctx, id, target, true)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
