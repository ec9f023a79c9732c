package main

import (
	"strings"
	"testing"
)

// TestHelpGolden keeps the --help of the main commands in testdata/help/, so that a change to a flag or a text shows
// in review, and the docs can be checked against it. go test ./cmd/berth -run HelpGolden -update rewrites them.
func TestHelpGolden(t *testing.T) {
	for _, path := range []string{
		"", "install", "install phase", "upgrade plan", "upgrade apply", "etcd backup", "etcd restore", "reset",
		"status", "preflight", "exec", "inventory validate", "bundle build", "bundle verify", "wizard", "version",
		"cache list", "cache prune", "lab ssh", "kubeconfig", "certs check-expiration", "certs renew", "node remove",
	} {
		name := "berth"
		if path != "" {
			name += "-" + strings.ReplaceAll(path, " ", "-")
		}
		t.Run(name, func(t *testing.T) {
			code, out, errOut := berth(t, append(strings.Fields(path), "--help")...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			golden(t, "help/"+name+".golden", out)
		})
	}
}
