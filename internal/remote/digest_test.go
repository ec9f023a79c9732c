package remote

import (
	"context"
	"strings"
	"testing"
)

// TestUploadsRefuseMalformedDigests: a digest goes into the shell that checks and renames uploaded files (a
// case pattern in PutFiles, the one upload path). Only 64 lower-case hex digits may: anything else is refused
// before any command runs. Upper-case hex is lowered first, as before.
func TestUploadsRefuseMalformedDigests(t *testing.T) {
	e, err := New(Config{Target: Target{Host: "h", Address: "127.0.0.1", Port: 1, User: "root",
		HostKeys: []string{"SHA256:" + strings.Repeat("A", 43)}, Timeout: 1e9}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bad := map[string]string{
		"pattern":       "*) rm -rf -- /var/lib/etcd ;; *) echo " + strings.Repeat("0", 26), // 64 bytes
		"command":       "$(touch${IFS}/tmp/pwned)" + strings.Repeat("0", 40),
		"not hex":       strings.Repeat("g", 64),
		"too short":     strings.Repeat("0", 63),
		"sha256 prefix": "sha256:" + strings.Repeat("0", 57),
	}
	for name, d := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := e.PutFiles(context.Background(), []File{{Data: []byte("x"), Dst: "/tmp/x", Digest: d}}, nil)
			if err == nil || !strings.Contains(err.Error(), "is not 64 lower-case hex digits") {
				t.Errorf("PutFiles with digest %q: %v", d, err)
			}
		})
	}
	if n := e.Stats().Commands; n != 0 {
		t.Errorf("%d commands ran", n)
	}
}
