package lab

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"

	"github.com/berthsh/berth/inventory"
)

// DefaultName is the lab name used when none is given.
const DefaultName = "berth"

// User is the non-root login with passwordless sudo on every lab host.
const User = "berth"

// Limits of one lab: the address scheme gives each role nine addresses (.11-.19, .21-.29, .31-.39, .41-.49).
const maxPerRole = 9

// Options for Up. Zero values take defaults.
type Options struct {
	Name          string // default "berth"; Docker objects are named berth-<name>-...
	ControlPlanes int    // Up uses exactly what is given (>= 0); the CLI defaults to 3
	Workers       int    // worker hosts
	Registries    int    // registry hosts
	// Storage hosts sit in the storage zone: role storage, NICs on the management and storage planes only, like
	// a bank's registry and storage servers. They are not Kubernetes nodes.
	Storage  int
	StateDir string                         // default ~/.local/state/berth/labs; the lab dir is StateDir/<name>
	CacheDir string                         // image build cache; default ~/.cache/berth/lab
	Subnets  map[inventory.PlaneName]string // optional overrides of the four plane CIDRs
	Logger   *slog.Logger                   // progress and debug messages; nil discards them
	// Test marks the lab as created by a test, so `berth lab down --tests` and labtest.DownAll find it.
	Test bool
}

var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)

// ValidateName checks a lab name: it becomes part of Docker object names, iptables comments and the inventory's
// metadata.name.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("lab name %q: use 1-20 lower case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// withDefaults returns a copy of opts with defaults applied, or an error naming the bad option.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if err := ValidateName(o.Name); err != nil {
		return o, err
	}
	for _, c := range []struct {
		n    int
		what string
	}{{o.ControlPlanes, "control planes"}, {o.Workers, "workers"}, {o.Registries, "registries"}, {o.Storage, "storage hosts"}} {
		if c.n < 0 || c.n > maxPerRole {
			return o, fmt.Errorf("lab %s: %d %s: use 0 to %d", o.Name, c.n, c.what, maxPerRole)
		}
	}
	if o.ControlPlanes+o.Workers+o.Registries+o.Storage == 0 {
		return o, fmt.Errorf("lab %s: no hosts asked for: give at least one control plane, worker, registry or storage host", o.Name)
	}
	for plane, cidr := range o.Subnets {
		if !isPlane(plane) {
			return o, fmt.Errorf("lab %s: subnet for unknown plane %q: use management, control, storage or business", o.Name, plane)
		}
		if _, err := parseSubnet(cidr); err != nil {
			return o, fmt.Errorf("lab %s: %s subnet: %w", o.Name, plane, err)
		}
	}
	if o.StateDir == "" {
		dir, err := DefaultStateDir()
		if err != nil {
			return o, err
		}
		o.StateDir = dir
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, fmt.Errorf("lab state directory %s: %w", o.StateDir, err)
	}
	o.StateDir = abs
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// DefaultStateDir returns where labs keep their directories: $XDG_STATE_HOME/berth/labs, by default
// ~/.local/state/berth/labs.
func DefaultStateDir() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "berth", "labs"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the lab state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "berth", "labs"), nil
}

func isPlane(p inventory.PlaneName) bool {
	for _, q := range inventory.AllPlanes {
		if p == q {
			return true
		}
	}
	return false
}

// parseSubnet accepts an IPv4 subnet between /16 and /26 given by its network address.
func parseSubnet(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return p, fmt.Errorf("%q is not a CIDR: write it like 172.30.10.0/24", cidr)
	}
	if !p.Addr().Is4() {
		return p, fmt.Errorf("%s: the lab uses IPv4 subnets only", cidr)
	}
	if p.Bits() < 16 || p.Bits() > 26 {
		return p, fmt.Errorf("%s: use a prefix length between /16 and /26 (the lab needs addresses up to .100)", cidr)
	}
	if p.Masked() != p {
		return p, fmt.Errorf("%s is not a network address: use %s", cidr, p.Masked())
	}
	return p, nil
}
