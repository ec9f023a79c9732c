package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/berthsh/berth/inventory"
	"github.com/docker/docker/client"
)

// Lab is a running (or stopped) set of lab hosts and the files that describe them.
type Lab struct {
	Name           string
	Dir            string // holds id_ed25519 (0600), id_ed25519.pub, known_hosts, inventory.yaml, lab.json
	InventoryPath  string // Dir/inventory.yaml: passes `berth inventory validate`, ready for `berth install`
	KeyPath        string // Dir/id_ed25519
	KnownHostsPath string // Dir/known_hosts
	User           string // the non-root sudo user ("berth")
	Hosts          []Host

	// Subnets are the plane subnets of the lab's Docker networks.
	Subnets map[inventory.PlaneName]netip.Prefix
	// VIP is the address reserved for the control-plane VIP (.100 on the control plane).
	VIP string
	// Image is the host image the lab's containers run.
	Image string

	docker *client.Client
	log    *slog.Logger
}

// Host is one lab host.
type Host struct {
	Name      string
	Container string // Docker container name
	Roles     []inventory.Role
	NICs      map[inventory.PlaneName]NIC // interface and address per plane the host is attached to
}

// Planes returns the planes the host has a NIC on, in canonical order: all four, or management and storage for a
// host in the storage zone.
func (h *Host) Planes() []inventory.PlaneName {
	var out []inventory.PlaneName
	for _, p := range inventory.AllPlanes {
		if _, ok := h.NICs[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// NIC is a host's interface on one plane.
type NIC struct {
	Interface string `json:"interface"`
	Address   string `json:"address"`
}

// Address returns the host's management address, the one SSH listens on.
func (h *Host) Address() string { return h.NICs[inventory.Management].Address }

// Open returns an existing lab from its directory under stateDir ("" for the default).
func Open(ctx context.Context, name, stateDir string) (*Lab, error) {
	if name == "" {
		name = DefaultName
	}
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if stateDir == "" {
		var err error
		if stateDir, err = DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(stateDir, name)
	st, err := readState(dir)
	if errors.Is(err, errNoLab) {
		return nil, fmt.Errorf("open lab %s: no lab directory %s: create the lab with `berth lab up --name %s`", name, dir, name)
	}
	if err != nil {
		return nil, err
	}
	cli, err := newDocker(ctx)
	if err != nil {
		return nil, err
	}
	l, err := labFromState(dir, st, cli, nil)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return l, nil
}

// labFromState builds the Lab value a state file describes.
func labFromState(dir string, st *state, cli *client.Client, log *slog.Logger) (*Lab, error) {
	subnets, err := st.prefixes()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lab{
		Name:           st.Name,
		Dir:            dir,
		InventoryPath:  filepath.Join(dir, inventoryFile),
		KeyPath:        filepath.Join(dir, keyFile),
		KnownHostsPath: filepath.Join(dir, knownHostsFile),
		User:           User,
		Hosts:          buildHosts(st.Name, planHosts(st.ControlPlanes, st.Workers, st.Registries, st.Storage), subnets),
		Subnets:        subnets,
		VIP:            nthAddr(subnets[inventory.Control], vipOffset).String(),
		Image:          st.Image,
		docker:         cli,
		log:            log,
	}, nil
}

// Close releases the lab's connection to Docker. The lab keeps running.
func (l *Lab) Close() error {
	if l.docker == nil {
		return nil
	}
	return l.docker.Close()
}

// Inventory loads the lab's inventory.yaml (with defaults and validation, as `berth install` will). An inventory
// needs a control plane, so this fails for a lab made without one (its hosts still work over SSH).
func (l *Lab) Inventory() (*inventory.Inventory, error) { return inventory.Load(l.InventoryPath) }

// Host returns the lab host called name.
func (l *Lab) Host(name string) (*Host, error) {
	var names []string
	for i := range l.Hosts {
		if l.Hosts[i].Name == name {
			return &l.Hosts[i], nil
		}
		names = append(names, l.Hosts[i].Name)
	}
	return nil, fmt.Errorf("lab %s has no host %q: it has %s", l.Name, name, strings.Join(names, ", "))
}

// Exec runs a command as root on a lab host through docker exec and returns its standard output. A non-zero exit
// is an error carrying the output. It is for test assertions and the lab's own plumbing; berth itself reaches the
// hosts over SSH only.
func (l *Lab) Exec(ctx context.Context, host string, cmd ...string) (string, error) {
	h, err := l.Host(host)
	if err != nil {
		return "", err
	}
	return mustExec(ctx, l.docker, h.Container, cmd...)
}

// SSHArgs returns the arguments of the system ssh client that log in to h as the lab's user with the lab's key,
// trusting only the host keys in the lab's known_hosts.
func (l *Lab) SSHArgs(h *Host) []string {
	return []string{
		"-i", l.KeyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + l.KnownHostsPath,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
		"-o", "PasswordAuthentication=no",
		"-l", l.User,
		h.Address(),
	}
}
