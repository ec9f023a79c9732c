package main

import (
	"strings"
	"testing"
	"time"
)

// TestDay2UsageErrors: the day-2 commands refuse a wrong command line with exit 2 and the fix, before they read the
// inventory or reach a host.
func TestDay2UsageErrors(t *testing.T) {
	t.Setenv(envInventory, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"kubeconfig", "-i", "none.yaml", "--groups", "sre"}, "--groups and --expiry are for a user's kubeconfig: add --user NAME"},
		{[]string{"kubeconfig", "-i", "none.yaml", "--user", "alice"}, "--user alice needs --out FILE (or --out - for stdout)"},
		{[]string{"kubeconfig", "-i", "none.yaml", "--user", "alice", "--out", "-", "-o", "json"}, "--out - writes the kubeconfig to stdout"},
		{[]string{"kubeconfig", "-i", "none.yaml", "--user", "alice", "--out", "a", "--expiry", "5m"}, "--expiry 5m: the cluster signs client certificates for at least 10m0s"},
		{[]string{"kubeconfig", "-i", "none.yaml", "--user", "alice", "--out", "a", "--expiry", "soon"}, `"soon": a duration is like 30d`},
		{[]string{"kubeconfig", "-i", "none.yaml", "--user", "alice", "--groups", "system:masters", "--out", "a"}, "cannot be revoked"},
		{[]string{"certs", "check-expiration", "-i", "none.yaml", "--fail-within", "xd"}, "days are a whole number"},
		{[]string{"certs", "renw"}, `did you mean "renew"?`},
		{[]string{"node", "remove", "-i", "none.yaml"}, "NAME of the node"},
		{[]string{"node", "remove", "-i", "none.yaml", "cp1", "cp2"}, "NAME of the node"},
		{[]string{"node", "remove", "-i", "../../inventory/example.yaml", "cp1"}, "not at a terminal: add --yes"},
		{[]string{"certs", "renew", "-i", "../../inventory/example.yaml"}, "not at a terminal: add --yes"},
		{[]string{"certs", "renew", "-i", "none.yaml"}, "missing"},
	} {
		code, _, errOut := berth(t, tc.args...)
		if tc.want == "missing" { // the inventory is read before the confirmation: a missing file is exit 1
			if code != exitFailure || !strings.Contains(errOut, "none.yaml") {
				t.Errorf("berth %s: exit %d\n%s", strings.Join(tc.args, " "), code, errOut)
			}
			continue
		}
		if code != exitUsage || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "See 'berth") {
			t.Errorf("berth %s: exit %d, stderr:\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute, "0": 0, "0d": 0,
	} {
		got, err := parseLifetime(in)
		if err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "1.5d", "-5m", "1w", "30days"} {
		if d, err := parseLifetime(bad); err == nil && bad != "" {
			t.Errorf("parseLifetime(%q) = %s, accepted", bad, d)
		}
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 30 * 24 * time.Hour: "30d", 90 * time.Minute: "90m", 36 * time.Hour: "36h"} {
		f := lifetimeFlag{d: d}
		if got := f.String(); got != want {
			t.Errorf("lifetimeFlag(%s) = %s, want %s", d, got, want)
		}
	}
}
