package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes through the whole loading path: parse (aliases included), default, validate
// (which builds the index of positions), and a marshal round trip. Nothing may panic, every problem must carry a
// path or a position, and aliases may not expand past the decoder's budget: an input refused for its aliases
// decodes to nothing.
func FuzzLoad(f *testing.F) {
	f.Add(Example)
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("hosts: [{name: a, nics: {management: {address: 1.2.3.4}}}]"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("hosts: &h [*h]"))
	f.Add([]byte("hosts:\n  - &h {name: a, roles: &r [worker], labels: &l {a: b}}\n  - {name: b, roles: *r, labels: *l}\n  - *h\n"))
	f.Add([]byte("metadata: {name: *undefined}"))
	f.Add([]byte("ssh: {sudoPasswordFrom: env:X, bastion: {address: a@b:1}}\nhosts: [{name: s, roles: [storage], ssh: {bastion: {address: 10.0.0.1:22}, sudoPasswordFrom: file:x}, nics: {management: {interface: bond0.7}}}]\ncontrolPlane: {certSANs: ['*.a', 1.2.3.4, A_B]}\ndns: {forward: [{domain: cluster.local, servers: ['1.2.3.4#0']}], searchDomains: [a, a]}"))
	f.Add(laughs(3))
	f.Add(laughs(30))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, problems := Parse("fuzz.yaml", data)
		if len(problems) == 1 && strings.Contains(problems[0].Message, "aliases expand") && len(inv.Tenants)+len(inv.Hosts) != 0 {
			t.Fatalf("refused for its aliases, still decoded %d hosts and %d tenants", len(inv.Hosts), len(inv.Tenants))
		}
		for _, p := range problems {
			if p.Path == "" && p.Line == 0 {
				t.Fatalf("problem with neither path nor position: %+v", p)
			}
		}
		inv.Default()
		inv.Default() // idempotent
		for _, p := range inv.Validate() {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		if _, err := Marshal(inv); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
