package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/berthsh/berth/inventory"
)

// Files in a lab directory.
const (
	stateFile      = "lab.json"
	keyFile        = "id_ed25519"
	knownHostsFile = "known_hosts"
	inventoryFile  = "inventory.yaml"
)

// state is what a lab directory records about the lab, so Open, Down and a second Up find the same lab.
type state struct {
	Name          string                         `json:"name"`
	Index         int                            `json:"index"` // subnet block, -1 when every subnet was given
	Subnets       map[inventory.PlaneName]string `json:"subnets"`
	ControlPlanes int                            `json:"controlPlanes"`
	Workers       int                            `json:"workers"`
	Registries    int                            `json:"registries"`
	Storage       int                            `json:"storage,omitempty"`
	Image         string                         `json:"image"`
	Test          bool                           `json:"test,omitempty"`
	Created       time.Time                      `json:"created"`
}

func (s *state) prefixes() (map[inventory.PlaneName]netip.Prefix, error) {
	out := map[inventory.PlaneName]netip.Prefix{}
	for _, plane := range inventory.AllPlanes {
		p, err := netip.ParsePrefix(s.Subnets[plane])
		if err != nil {
			return nil, fmt.Errorf("lab %s: %s subnet %q in %s: %w", s.Name, plane, s.Subnets[plane], stateFile, err)
		}
		out[plane] = p
	}
	return out, nil
}

// readState reads dir/lab.json; errNoLab when the lab does not exist.
func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoLab
	}
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read lab state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(data, '\n'), 0o644)
}

var errNoLab = errors.New("no such lab")

// writeFileAtomic writes a file through a temporary name and a rename, so readers never see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// otherLabSubnets lists the subnets recorded by the other labs of a state directory, so a new lab avoids them even
// while their networks are down.
func otherLabSubnets(stateDir, except string) []takenNet {
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return nil
	}
	var out []takenNet
	for _, e := range entries {
		if !e.IsDir() || e.Name() == except {
			continue
		}
		s, err := readState(filepath.Join(stateDir, e.Name()))
		if err != nil {
			continue
		}
		for plane, cidr := range s.Subnets {
			if p, err := netip.ParsePrefix(cidr); err == nil {
				out = append(out, takenNet{p, fmt.Sprintf("the %s plane of lab %s", plane, s.Name)})
			}
		}
	}
	return out
}
