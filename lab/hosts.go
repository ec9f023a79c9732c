package lab

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/berthsh/berth/inventory"
)

// hostVolumes are the directories of a host kept on named Docker volumes: nested container storage needs a file
// system that is not the container's own overlay, and Kubernetes state should not slow down the image layer.
var hostVolumes = []struct{ purpose, path string }{
	{"containerd", "/var/lib/containerd"},
	{"kubelet", "/var/lib/kubelet"},
	{"etcd", "/var/lib/etcd"},
}

// hostConfig is the Docker configuration of a lab host: what lets systemd, sshd and nested containers run in an
// unprivileged container on a machine without CAP_SYS_RESOURCE (see lab-notes: --privileged does not work here).
// The host has a cgroup namespace of its own (not the machine's, as in lab-notes): with the machine's namespace,
// every host's kubelet and containerd (cgroupfs driver) would share /kubepods and /default at the machine's root,
// and a kubelet cleaning up "orphaned" pod cgroups would kill the pods of the other hosts.
func (l *Lab) hostConfig(h *Host, labels map[string]string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	cfg := &container.Config{
		Hostname:   h.Name,
		Image:      l.Image,
		Cmd:        []string{initPath},
		Env:        []string{"container=docker"},
		Labels:     labels,
		StopSignal: "SIGRTMIN+3",
	}
	hc := &container.HostConfig{
		NetworkMode:   container.NetworkMode(networkName(l.Name, inventory.Management)),
		CapAdd:        []string{"ALL"},
		CapDrop:       []string{"SYS_RESOURCE"},
		SecurityOpt:   []string{"seccomp=unconfined", "apparmor=unconfined"},
		MaskedPaths:   []string{}, // systempaths=unconfined: /proc/sys writable for sysctls
		ReadonlyPaths: []string{},
		CgroupnsMode:  container.CgroupnsModePrivate,
		Binds:         []string{"/lib/modules:/lib/modules:ro"},
		Tmpfs: map[string]string{
			"/run":      "rw,exec,nosuid,nodev,mode=755",
			"/run/lock": "rw,noexec,nosuid,nodev",
			"/tmp":      "rw,exec,nosuid,nodev,mode=1777",
		},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
		Resources: container.Resources{
			Devices: []container.DeviceMapping{{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "rwm"}},
			// A server's root may use every device; nested privileged pods (kube-proxy) ask runc for "a *:* rwm",
			// which the device cgroup refuses unless the host's own cgroup allows it.
			DeviceCgroupRules: []string{"a *:* rwm"},
		},
	}
	for _, v := range hostVolumes {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: volumeName(l.Name, h.Name, v.purpose), Target: v.path})
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		networkName(l.Name, inventory.Management): endpoint(h, inventory.Management),
	}}
	return cfg, hc, nc
}

func endpoint(h *Host, plane inventory.PlaneName) *network.EndpointSettings {
	return &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: h.NICs[plane].Address}}
}

// hostFiles are the per-host files copied into a container before it starts.
func hostFiles(h *Host, authorizedKey []byte) []tarFile {
	var nics strings.Builder
	for _, plane := range h.Planes() {
		fmt.Fprintf(&nics, "%s %s\n", h.NICs[plane].Interface, h.NICs[plane].Address)
	}
	return []tarFile{
		{Path: "/etc/berth-lab/nics", Mode: 0o644, Data: []byte(nics.String())},
		{Path: "/etc/ssh/sshd_config.d/20-berth-lab-listen.conf", Mode: 0o644,
			Data: []byte("# berth lab host: SSH on the management NIC only.\nListenAddress " + h.Address() + "\n")},
		{Path: "/home/berth/.ssh/authorized_keys", Mode: 0o600, UID: 1000, GID: 1000, Data: authorizedKey},
	}
}

// ensureHost creates the host's container (with its volumes and a NIC on every plane) unless it exists, refreshes
// its lab files, and starts it. It reports whether the container was created.
func (l *Lab) ensureHost(ctx context.Context, h *Host, labels map[string]string, authorizedKey []byte) (bool, error) {
	cli := l.docker
	created := false
	insp, err := cli.ContainerInspect(ctx, h.Container)
	if err == nil && insp.Config.Labels[labelLab] == l.Name {
		why := ""
		switch {
		case !attachedToAll(l.Name, h, insp):
			// An earlier Up stopped between creating the container and connecting its planes.
			why = "it misses a plane network"
		case insp.Config.Image != l.Image && insp.Config.Labels[labelTest] == "true":
			// Test labs follow the image recipe; a user's lab keeps its hosts (and what was installed on them).
			why = "the lab image changed"
		}
		if why != "" {
			l.log.Info("recreating host: "+why, "host", h.Name)
			if err := removeContainer(ctx, cli, h.Container); err != nil {
				return false, err
			}
			if err := removeVolumes(ctx, cli, l.Name, h.Name); err != nil {
				return false, err
			}
			_, err = cli.ContainerInspect(ctx, h.Container)
		}
	}
	switch {
	case cerrdefs.IsNotFound(err):
		hostLabels := withLabel(labels, labelHost, h.Name)
		for _, v := range hostVolumes {
			if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: volumeName(l.Name, h.Name, v.purpose), Labels: hostLabels}); err != nil {
				return false, fmt.Errorf("create volume for %s: %w", h.Name, err)
			}
		}
		cfg, hc, nc := l.hostConfig(h, hostLabels)
		if _, err := cli.ContainerCreate(ctx, cfg, hc, nc, nil, h.Container); err != nil {
			return false, fmt.Errorf("create host %s: %w", h.Name, err)
		}
		// Docker 20.10 takes one network at create time; the host's other planes are connected before the first start.
		for _, plane := range h.Planes()[1:] {
			if err := cli.NetworkConnect(ctx, networkName(l.Name, plane), h.Container, endpoint(h, plane)); err != nil {
				return false, fmt.Errorf("connect host %s to the %s plane: %w", h.Name, plane, err)
			}
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("inspect host %s: %w", h.Name, err)
	default:
		if insp.Config.Labels[labelLab] != l.Name {
			return false, fmt.Errorf("container %s exists but does not belong to lab %s: remove it with `docker rm -f %s`",
				h.Container, l.Name, h.Container)
		}
		if insp.Config.Image != l.Image {
			l.log.Warn("host runs an older lab image; `berth lab down` and `up` to refresh it", "host", h.Name,
				"image", insp.Config.Image, "current", l.Image)
		}
	}
	buf, err := tarOf(hostFiles(h, authorizedKey))
	if err != nil {
		return created, err
	}
	if err := cli.CopyToContainer(ctx, h.Container, "/", buf, container.CopyToContainerOptions{}); err != nil {
		return created, fmt.Errorf("copy lab files into host %s: %w", h.Name, err)
	}
	if created || !insp.State.Running {
		if err := cli.ContainerStart(ctx, h.Container, container.StartOptions{}); err != nil {
			return created, fmt.Errorf("start host %s: %w", h.Name, err)
		}
	}
	return created, nil
}

// attachedToAll reports whether a container is attached to the network of every plane its host has a NIC on.
func attachedToAll(lab string, h *Host, insp container.InspectResponse) bool {
	if insp.NetworkSettings == nil {
		return false
	}
	for _, plane := range h.Planes() {
		if insp.NetworkSettings.Networks[networkName(lab, plane)] == nil {
			return false
		}
	}
	return true
}

// removeContainer removes a container and its anonymous volumes.
func removeContainer(ctx context.Context, cli *client.Client, id string) error {
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		// A cgroup runc left frozen holds processes that cannot die (see thawHost): thaw, and remove again.
		if n, terr := thawHost(ctx, cli, id); terr == nil && n > 0 {
			err = cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

func withLabel(labels map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for a, b := range labels {
		out[a] = b
	}
	out[k] = v
	return out
}
