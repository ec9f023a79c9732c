package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/berthsh/berth/internal/localfile"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError reports a host key that berth does not trust: either it differs from the recorded one (Known is set)
// or the host is not known at all. The message says how to accept the key deliberately.
type HostKeyError struct {
	Host        string   // inventory name of the host (or "bastion")
	Address     string   // host:port dialled
	KeyType     string   // type of the offered key, e.g. ssh-ed25519
	Offered     string   // SHA256 fingerprint of the offered key
	Others      []string // further keys the host offered ("ecdsa-sha2-nistp256 SHA256:..."), when pins were tried against each type
	Known       []string // what was expected: "SHA256:... (known_hosts:3)" or pinned fingerprints
	KnownHosts  string   // known_hosts file consulted, if any
	Pinned      bool     // the host is verified against pinned fingerprints
	InventoryAt string   // where a pin would go, e.g. hosts[cp1].ssh.hostKeys
}

func (e *HostKeyError) Error() string {
	var b strings.Builder
	host, port, _ := net.SplitHostPort(e.Address)
	keyName := host
	if port != "22" {
		keyName = "[" + host + "]:" + port
	}
	if len(e.Known) > 0 {
		fmt.Fprintf(&b, "host key of %s (%s) has changed: it offered %s %s", e.Host, e.Address, e.KeyType, e.Offered)
		if len(e.Others) > 0 {
			fmt.Fprintf(&b, " (and %s)", strings.Join(e.Others, ", "))
		}
		fmt.Fprintf(&b, " but berth expects %s", strings.Join(e.Known, ", "))
		b.WriteString("; this is what a man-in-the-middle looks like, so nothing was sent to the host.")
	} else {
		fmt.Fprintf(&b, "host key of %s (%s) is not known: it offered %s %s", e.Host, e.Address, e.KeyType, e.Offered)
		if e.KnownHosts != "" {
			fmt.Fprintf(&b, " and %s has no entry for it.", e.KnownHosts)
		} else {
			b.WriteString(" and no known_hosts file or pinned fingerprint covers it.")
		}
	}
	b.WriteString(" If the key is right (compare it with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host's console), accept it deliberately: ")
	if e.Pinned {
		fmt.Fprintf(&b, "replace the pinned fingerprint in %s with %s.", e.InventoryAt, e.Offered)
		return b.String()
	}
	if e.KnownHosts != "" && len(e.Known) > 0 {
		fmt.Fprintf(&b, "`ssh-keygen -R %s -f %s`, then collect the new key again (`ssh-keyscan -p %s %s >> %s`), or pin it in %s as %s.",
			Quote(keyName), Quote(e.KnownHosts), port, host, Quote(e.KnownHosts), e.InventoryAt, e.Offered)
		return b.String()
	}
	if e.KnownHosts != "" {
		fmt.Fprintf(&b, "collect it (`ssh-keyscan -p %s %s >> %s`) or pin it in %s as %s.", port, host, Quote(e.KnownHosts), e.InventoryAt, e.Offered)
		return b.String()
	}
	fmt.Fprintf(&b, "set ssh.knownHosts to a known_hosts file that lists it, or pin it in %s as %s.", e.InventoryAt, e.Offered)
	return b.String()
}

// hostKeyPolicy decides which host keys are accepted for one address.
type hostKeyPolicy struct {
	host        string
	knownHosts  string   // known_hosts path; "" means none
	pins        []string // SHA256 fingerprints; when set, only these are accepted
	inventoryAt string

	mu       sync.Mutex
	pinnedOK []string // key algorithms whose key matched a pin last time: tried first on reconnects
}

// pinGroups lists the key types to try against pins, one handshake each, the last successful one first.
func (p *hostKeyPolicy) pinGroups() [][]string {
	groups := [][]string{
		{ssh.KeyAlgoED25519},
		{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
		{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, g := range groups {
		if slices.Equal(g, p.pinnedOK) {
			return append([][]string{g}, append(groups[:i:i], groups[i+1:]...)...)
		}
	}
	return groups
}

func (p *hostKeyPolicy) remember(algos []string) {
	if len(p.pins) == 0 {
		return
	}
	p.mu.Lock()
	p.pinnedOK = algos
	p.mu.Unlock()
}

// newHostKeyPolicy builds the policy: pins win; otherwise the given known_hosts file, else ~/.ssh/known_hosts.
func newHostKeyPolicy(host, knownHostsFile string, pins []string, inventoryAt string) (*hostKeyPolicy, error) {
	p := &hostKeyPolicy{host: host, pins: normalizePins(pins), inventoryAt: inventoryAt}
	if len(p.pins) > 0 {
		return p, nil
	}
	if knownHostsFile == "" {
		home, err := os.UserHomeDir()
		if err == nil {
			def := filepath.Join(home, ".ssh", "known_hosts")
			if _, err := os.Stat(def); err == nil {
				knownHostsFile = def
			}
		}
	}
	if knownHostsFile == "" {
		return nil, fmt.Errorf("verify host key of %s: no known_hosts file and no pinned fingerprint; set ssh.knownHosts in the inventory or pin the key in %s", host, inventoryAt)
	}
	if err := checkKnownHosts(knownHostsFile); err != nil {
		return nil, fmt.Errorf("verify host key of %s: %w", host, err)
	}
	p.knownHosts = knownHostsFile
	return p, nil
}

// checkKnownHosts refuses a known_hosts path that is not a regular file of at most 4 MiB: a FIFO would block the
// connection forever and /dev/zero would never end. x/crypto's knownhosts reads the file by its path, so this
// runs right before each read.
func checkKnownHosts(p string) error {
	if _, _, err := localfile.Read(p, localfile.KnownHostsLimit); err != nil {
		return fmt.Errorf("read known_hosts: %w", err)
	}
	return nil
}

func normalizePins(pins []string) []string {
	var out []string
	for _, p := range pins {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "SHA256:") {
			p = "SHA256:" + p
		}
		out = append(out, strings.TrimRight(p, "="))
	}
	return out
}

// callback returns the ssh.HostKeyCallback and the host-key algorithms to offer, so that a host with several keys
// presents the one that is recorded (x/crypto would otherwise pick its own preferred type and report a mismatch).
func (p *hostKeyPolicy) callback(address string) (ssh.HostKeyCallback, []string, error) {
	if len(p.pins) > 0 {
		cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
			fp := ssh.FingerprintSHA256(key)
			if slices.Contains(p.pins, fp) {
				return nil
			}
			return &HostKeyError{Host: p.host, Address: address, KeyType: key.Type(), Offered: fp,
				Known: p.pins, Pinned: true, InventoryAt: p.inventoryAt}
		}
		return cb, nil, nil // the caller tries each key type in turn (pinGroups)
	}
	if err := checkKnownHosts(p.knownHosts); err != nil {
		return nil, nil, err
	}
	kh, err := knownhosts.New(p.knownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("read known_hosts %s: %w", p.knownHosts, err)
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := kh(hostname, remote, key)
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			he := &HostKeyError{Host: p.host, Address: address, KeyType: key.Type(),
				Offered: ssh.FingerprintSHA256(key), KnownHosts: p.knownHosts, InventoryAt: p.inventoryAt}
			for _, w := range ke.Want {
				he.Known = append(he.Known, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key),
					w.Filename, w.Line))
			}
			return he
		}
		var re *knownhosts.RevokedError
		if errors.As(err, &re) {
			return fmt.Errorf("host key of %s (%s) is revoked in %s:%d", p.host, address, re.Revoked.Filename, re.Revoked.Line)
		}
		return err
	}
	return cb, p.knownAlgorithms(kh, address), nil
}

// knownAlgorithms asks the known_hosts database which key types it holds for address, by checking a throw-away key
// that cannot be in it: the mismatch lists the recorded keys.
func (p *hostKeyPolicy) knownAlgorithms(kh ssh.HostKeyCallback, address string) []string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil
	}
	port, _ := strconv.Atoi(portStr)
	remote := &net.TCPAddr{IP: net.ParseIP(host), Port: port}
	if remote.IP == nil {
		remote.IP = net.IPv4zero
	}
	var ke *knownhosts.KeyError
	if err := kh(address, remote, probe.PublicKey()); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	slices.SortStableFunc(ke.Want, func(a, b knownhosts.KnownKey) int { return keyRank(a.Key.Type()) - keyRank(b.Key.Type()) })
	for _, w := range ke.Want {
		for _, a := range algorithmsFor(w.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// keyRank orders key types by preference: ed25519, then ECDSA, then the rest.
func keyRank(t string) int {
	switch {
	case t == ssh.KeyAlgoED25519:
		return 0
	case strings.HasPrefix(t, "ecdsa-"):
		return 1
	}
	return 2
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}
