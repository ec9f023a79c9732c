package tui

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// Discoverer opens an SSH connection to one host and reports what the wizard needs to know about it. Probe is the
// connection test and the NIC discovery at once. dir is the inventory's directory, against which file: secret
// references resolve (the target's paths are already absolute).
type Discoverer interface {
	Probe(ctx context.Context, target inventory.SSHTarget, dir string) (HostFacts, error)
}

// HostFacts is what a probe learnt about a host.
type HostFacts struct {
	Hostname   string       // the host's own name (hostname)
	User       string       // the login user
	Sudo       string       // "" when sudo is not used; otherwise "ok" or why it failed
	Interfaces []Interface  // network interfaces with their IPv4 addresses
	Neighbors  []netip.Addr // IPv4 addresses in the host's neighbour (ARP) table: in use on some network
}

// Interface is one network interface of a host.
type Interface struct {
	Name  string
	Up    bool
	Addrs []netip.Prefix // IPv4 addresses with their prefix length
	// Secondary are those of Addrs the kernel marks secondary: a further address in a subnet the interface already
	// has, such as a VIP keepalived holds. They are never chosen as a host's NIC address over a primary one.
	Secondary []netip.Prefix
}

// HostKeyError is a probe refused because of the host's key. Changed is true when a different key is recorded for
// the host: the wizard then never offers to trust the offered one. An unknown key may be pinned by the operator.
type HostKeyError struct {
	Address     string // host:port dialled
	KeyType     string // e.g. ssh-ed25519
	Fingerprint string // SHA256:... of the offered key
	Changed     bool
	Err         error // the engine's error, with its advice
}

// Error explains the refusal: for a changed key the engine's message (it says how to accept a new key
// deliberately), for an unknown one what the host offered.
func (e *HostKeyError) Error() string {
	if e.Changed && e.Err != nil {
		return e.Err.Error()
	}
	if e.Changed {
		return fmt.Sprintf("host key of %s has changed: it offered %s %s", e.Address, e.KeyType, e.Fingerprint)
	}
	return fmt.Sprintf("host key of %s is not known: it offered %s %s, and no known_hosts entry or pinned fingerprint covers it",
		e.Address, e.KeyType, e.Fingerprint)
}

// Unwrap returns the engine's error.
func (e *HostKeyError) Unwrap() error { return e.Err }

// CheckStatus is the state of one preflight check.
type CheckStatus int

// Check states.
const (
	CheckRunning CheckStatus = iota
	CheckPass
	CheckWarn
	CheckFail
)

// Check is one preflight check on one host ("" for checks across hosts, such as clock skew). A check may be
// reported several times: running first, then with its outcome.
type Check struct {
	Host   string
	Name   string // e.g. "swap", "nic control"
	Status CheckStatus
	Detail string // what was found
	Fix    string // what to do, for failures and warnings
}

// Preflighter runs berth's preflight checks against an inventory and reports each check as it completes. It
// returns an error only when the checks could not run; failed checks are reported, not returned.
type Preflighter interface {
	Preflight(ctx context.Context, inv *inventory.Inventory, report func(Check)) error
}

// InstallRequest is what the install page hands the Installer.
type InstallRequest struct {
	Inventory     *inventory.Inventory // as written, already validated
	InventoryPath string               // the file the wizard wrote
	Bundle        string               // path of the offline bundle
}

// Installer installs a cluster and reports progress as phase events. Events must be delivered in order; the
// wizard renders them per host and per phase.
type Installer interface {
	Install(ctx context.Context, req InstallRequest, events phase.Observer) error
}

// ErrExists is returned by Files.WriteFile when the file exists and overwrite was not asked for.
var ErrExists = errors.New("file exists")

// Files is the wizard's access to the file system: it only writes the inventory.
type Files interface {
	// WriteFile writes data to path. Without overwrite it fails with ErrExists when path exists.
	WriteFile(path string, data []byte, overwrite bool) error
}
