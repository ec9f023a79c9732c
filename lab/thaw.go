package lab

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"
)

// A lab host runs containerd and runc inside. When Docker stops or removes the host while runc is in the middle of
// killing a pod's processes, runc may have frozen the pod's cgroup and die before it thaws it: the processes stay
// frozen, a frozen process cannot act on SIGKILL, and Docker gives up on the host ("did not receive an exit event").
// thawHost thaws every frozen cgroup below the host's container, so the kill Docker already sent takes effect.

// freezerRoots are where the container's cgroups live on the machine running Docker: the cgroup v1 freezer
// hierarchy (cgroupfs driver, or systemd's), then cgroup v2 (cgroupfs driver, or systemd's).
func freezerRoots(id string) []string {
	return []string{
		"/sys/fs/cgroup/freezer/docker/" + id,
		"/sys/fs/cgroup/freezer/system.slice/docker-" + id + ".scope",
		"/sys/fs/cgroup/docker/" + id,
		"/sys/fs/cgroup/system.slice/docker-" + id + ".scope",
	}
}

// thawHost thaws the frozen cgroups of the container (its full ID, looked up) and returns how many it thawed.
func thawHost(ctx context.Context, cli *client.Client, container string) (int, error) {
	insp, err := cli.ContainerInspect(ctx, container)
	if err != nil {
		return 0, err
	}
	thawed := 0
	for _, root := range freezerRoots(insp.ID) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a cgroup that went away while walking
			}
			switch d.Name() {
			case "freezer.state": // v1
				if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) != "THAWED" {
					if err := os.WriteFile(p, []byte("THAWED"), 0); err != nil {
						return fmt.Errorf("thaw %s: %w", filepath.Dir(p), err)
					}
					thawed++
				}
			case "cgroup.freeze": // v2
				if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) == "1" {
					if err := os.WriteFile(p, []byte("0"), 0); err != nil {
						return fmt.Errorf("thaw %s: %w", filepath.Dir(p), err)
					}
					thawed++
				}
			}
			return nil
		})
		if err != nil {
			return thawed, err
		}
	}
	return thawed, nil
}
