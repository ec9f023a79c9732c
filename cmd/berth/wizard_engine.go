package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/tui"
)

// sshDiscoverer is the wizard's connection test and NIC discovery: one SSH connection through the engine's
// executor (strict host-key checking, bastion, sudo), the read-only tui.ProbeScript, and a sudo check.
type sshDiscoverer struct {
	log *slog.Logger
}

// Probe connects, reads the host name, interfaces and neighbours, and checks sudo for users other than root.
func (d sshDiscoverer) Probe(ctx context.Context, t inventory.SSHTarget, dir string) (tui.HostFacts, error) {
	if t.KnownHosts == "" && len(t.HostKeys) == 0 {
		return tui.HostFacts{}, d.offeredKey(ctx, t, dir) // nothing verifies this host yet
	}
	facts, err := d.probe(ctx, t, dir)
	var he *remote.HostKeyError
	if errors.As(err, &he) && len(he.Known) == 0 {
		return facts, d.offeredKey(ctx, t, dir) // known_hosts has no entry for it
	}
	if errors.As(err, &he) {
		return facts, &tui.HostKeyError{Address: he.Address, KeyType: he.KeyType, Fingerprint: he.Offered,
			Changed: true, Err: err}
	}
	return facts, err
}

// offeredKey learns the key a host offers when it is verified by a pin, by checking it against a pin no key has,
// so that a pin the operator accepts is checked later against the same key type. It always returns an error: the
// refusal (a *tui.HostKeyError the wizard may offer to pin), or why the host could not be reached.
func (d sshDiscoverer) offeredKey(ctx context.Context, t inventory.SSHTarget, dir string) error {
	t.KnownHosts, t.HostKeys = "", []string{unmatchablePin}
	_, err := d.probe(ctx, t, dir)
	var he *remote.HostKeyError
	if errors.As(err, &he) {
		return &tui.HostKeyError{Address: he.Address, KeyType: he.KeyType, Fingerprint: he.Offered}
	}
	if err == nil {
		return fmt.Errorf("host %s accepted a fingerprint of no key", t.Address) // cannot happen with a sound engine
	}
	return err
}

// probe runs the probe script over one SSH connection.
func (d sshDiscoverer) probe(ctx context.Context, t inventory.SSHTarget, dir string) (tui.HostFacts, error) {
	var facts tui.HostFacts
	e, err := remote.New(remote.Config{Target: action.TargetFrom(t, dir), Logger: d.log})
	if err != nil {
		return facts, err
	}
	defer e.Close()
	if err := e.Connect(ctx); err != nil {
		return facts, err // unreachable, refused login or host key: said without the probe's command line
	}
	res, err := e.Run(ctx, remote.Cmd{Command: tui.ProbeScript, NoSudo: true})
	if err != nil {
		return facts, fmt.Errorf("discover %s: %w", t.Address, err)
	}
	if facts, err = tui.ParseProbe(res.Stdout); err != nil {
		return facts, fmt.Errorf("discover %s: %w", t.Address, err)
	}
	facts.User = t.User
	if t.Sudo {
		facts.Sudo = "ok"
		if _, err := e.Exec(ctx, "true"); err != nil {
			facts.Sudo = err.Error()
			if errors.Is(err, remote.ErrSudoPassword) {
				facts.Sudo = fmt.Sprintf("sudo asks %s for a password: give it by reference (ssh.sudoPasswordFrom), allow passwordless sudo (NOPASSWD) or log in as root", t.User)
			}
		}
	}
	return facts, nil
}

// unmatchablePin is a well-formed SHA256 fingerprint of no key (all zero bits).
var unmatchablePin = "SHA256:" + strings.Repeat("A", 43)

// enginePreflight runs internal/preflight through the phase runner: each host shows as its facts are read, then
// every check result.
type enginePreflight struct {
	log *slog.Logger
}

// Preflight runs every check on every host of inv and reports each result.
func (p enginePreflight) Preflight(ctx context.Context, inv *inventory.Inventory, report func(tui.Check)) error {
	const facts = "facts"
	obs := phase.ObserverFunc(func(e phase.Event) {
		switch e.Kind {
		case phase.HostStart:
			report(tui.Check{Host: e.Host, Name: facts, Status: tui.CheckRunning, Detail: "reading over SSH…"})
		case phase.HostFinish:
			c := tui.Check{Host: e.Host, Name: facts, Status: tui.CheckPass, Detail: "read"}
			if e.Status == phase.StatusFailed {
				c.Status, c.Detail = tui.CheckFail, e.Err
			}
			report(c)
		}
	})
	pool := action.NewPool(inv, p.log)
	defer pool.Close()
	rep, _, err := preflight.Run(ctx, preflight.RunOptions{
		Options:   preflight.Options{Inventory: inv, Logger: p.log},
		Observers: []phase.Observer{obs}, Pool: pool})
	if err != nil {
		return err
	}
	for _, r := range rep.Results {
		c := tui.Check{Host: r.Host, Name: r.Check, Detail: r.Detail, Fix: r.Fix, Status: tui.CheckPass}
		switch r.Status {
		case preflight.Warn:
			c.Status = tui.CheckWarn
		case preflight.Fail:
			c.Status = tui.CheckFail
		}
		report(c)
	}
	return nil
}

// engineInstaller runs the real install for the wizard's install page, feeding it the runner's events.
type engineInstaller struct {
	log    *slog.Logger
	verify bundles.VerifyOptions
}

func (i engineInstaller) Install(ctx context.Context, req tui.InstallRequest, events phase.Observer) error {
	raw, err := inventory.ReadFile(req.InventoryPath)
	if err != nil {
		return err
	}
	inv, err := inventory.Load(req.InventoryPath)
	if err != nil {
		return err
	}
	b, err := bundles.Open(ctx, req.Bundle, i.verify)
	if err != nil {
		return err
	}
	_, err = installer.Install(ctx, installer.Options{Inventory: inv, InventoryBytes: raw, Bundle: b, Logger: i.log,
		Command: "berth wizard", Observers: []phase.Observer{events}})
	return err
}
