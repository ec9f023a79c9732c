package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
	"github.com/berthsh/berth/tui"
)

// TestSSHDiscovererOnLabHosts runs the wizard's discovery against real hosts: facts through known_hosts, the key
// offered to an unverified host (the same the host's console prints), a pin accepted, a wrong pin refused as
// changed.
func TestSSHDiscovererOnLabHosts(t *testing.T) {
	l := labtest.Require(t, lab.Options{Name: "t-wizard", ControlPlanes: 1, Workers: 1})
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := sshDiscoverer{log: slog.New(slog.DiscardHandler)}
	h := l.Hosts[0]
	target := inv.SSHFor(inv.Host(h.Name))

	facts, err := d.Probe(ctx, target, inv.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if facts.Hostname != h.Name || facts.User != l.User || facts.Sudo != "ok" {
		t.Errorf("facts %+v", facts)
	}
	for plane, nic := range h.NICs {
		found := false
		for _, i := range facts.Interfaces {
			for _, a := range i.Addrs {
				found = found || (i.Name == nic.Interface && a.Addr().String() == nic.Address)
			}
		}
		if !found {
			t.Errorf("%s NIC %+v not discovered: %+v", plane, nic, facts.Interfaces)
		}
	}

	console, err := l.Exec(ctx, h.Name, "ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	unverified := target
	unverified.KnownHosts, unverified.HostKeys = "", nil
	_, err = d.Probe(ctx, unverified, inv.Dir())
	var he *tui.HostKeyError
	if !errors.As(err, &he) || he.Changed || !strings.Contains(console, he.Fingerprint+" ") {
		t.Fatalf("unverified host: %v; want the ed25519 key the console shows: %s", err, console)
	}

	pinned := unverified
	pinned.HostKeys = []string{he.Fingerprint}
	if _, err := d.Probe(ctx, pinned, inv.Dir()); err != nil {
		t.Fatalf("with the offered key pinned: %v", err)
	}

	wrong := unverified
	wrong.HostKeys = []string{"SHA256:" + strings.Repeat("B", 43)}
	_, err = d.Probe(ctx, wrong, inv.Dir())
	if !errors.As(err, &he) || !he.Changed {
		t.Fatalf("wrong pin: %v; want a changed-key refusal", err)
	}
}

// TestEnginePreflightOnLabHosts runs the wizard's preflight adapter: every host's facts, then every check.
func TestEnginePreflightOnLabHosts(t *testing.T) {
	l := labtest.Require(t, lab.Options{Name: "t-wizard", ControlPlanes: 1, Workers: 1})
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var checks []tui.Check
	err = enginePreflight{log: slog.New(slog.DiscardHandler)}.Preflight(ctx, inv, func(c tui.Check) { checks = append(checks, c) })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range checks {
		seen[c.Host+" "+c.Name+" "+statusName(c.Status)] = true
		if c.Status == tui.CheckFail {
			t.Errorf("failed on the lab: %+v", c)
		}
	}
	for _, h := range l.Hosts {
		for _, want := range []string{"facts running", "facts pass", "swap pass", "nic/control pass"} {
			if !seen[h.Name+" "+want] {
				t.Errorf("no %q for %s in %v", want, h.Name, seen)
			}
		}
	}
	clock := false
	for k := range seen {
		clock = clock || strings.Contains(k, " clock ")
	}
	if !clock {
		t.Errorf("no clock check across hosts: %v", seen)
	}
}

func statusName(s tui.CheckStatus) string {
	return [...]string{"running", "pass", "warn", "fail"}[s]
}
