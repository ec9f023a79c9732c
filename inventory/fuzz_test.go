package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes through the whole loading path: parse, default, validate, and a marshal round
// trip. Nothing may panic, and every problem must carry a path or a position.
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
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, problems := Parse("fuzz.yaml", data)
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
