package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/bundletest"
)

// TestBundlePatchCommands: delta writes a patch of the DNS image's change, verify checks it with its base and
// explains what a patch needs without one, diff shows what moves by component, inspect says it is a patch.
func TestBundlePatchCommands(t *testing.T) {
	t.Setenv("BERTH_BUNDLE_KEY", "")
	dir := t.TempDir()
	key := bundletest.NewKey(t)
	prefix := filepath.Join(dir, "keys", "bundle")
	if err := bundles.WriteKeyPair(prefix+".key", prefix+".pub", key.Private); err != nil {
		t.Fatal(err)
	}
	old := bundletest.Write(t, t.TempDir(), bundletest.Spec{}, key)
	next := bundletest.Write(t, t.TempDir(), bundletest.Spec{Version: "v1.31.4-dns",
		Extra: map[string]string{"coredns-image": "registry.k8s.io/coredns/coredns:v1.12.0"}}, key)
	other := bundletest.Write(t, t.TempDir(), bundletest.Spec{Salt: "other"}, key)
	oldHead, err := bundles.ReadHeader(old, bundles.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherHead, err := bundles.ReadHeader(other, bundles.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patch := filepath.Join(dir, "patch.tar")
	pub := prefix + ".pub"

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
		json   bool
	}{
		{"delta", []string{"bundle", "delta", old, next, "--out", patch, "--sign-key", prefix + ".key"}, 0,
			[]string{"wrote " + patch, "patch of test v1.31.4-test (manifest " + oldHead.ManifestDigest, "carries 4 of", "--base " + old}, nil, false},
		{"delta without output", []string{"bundle", "delta", old, next}, 2, nil, []string{"missing the required flag --out"}, false},
		{"verify with base", []string{"bundle", "verify", patch, "--base", old, "--key", pub}, 0,
			[]string{"OK " + patch, "v1.31.4-dns", "patch of test v1.31.4-test", "4 files of the release carried"}, nil, false},
		{"verify with base json", []string{"bundle", "verify", patch, "--base", old, "--key", pub, "-o", "json"}, 0,
			[]string{`"valid": true`, `"filesFromBase"`, oldHead.ManifestDigest}, nil, true},
		{"verify without base", []string{"bundle", "verify", patch, "--key", pub}, 1, nil,
			[]string{"is a patch bundle", "v1.31.4-test", oldHead.ManifestDigest, "--base"}, false},
		{"verify without base json", []string{"bundle", "verify", patch, "--key", pub, "-o", "json"}, 1,
			[]string{`"patch": true`, `"needsBase"`, oldHead.ManifestDigest}, nil, true},
		{"verify with another base", []string{"bundle", "verify", patch, "--base", other, "--key", pub}, 1, nil,
			[]string{oldHead.ManifestDigest, otherHead.ManifestDigest}, false},
		{"diff by component", []string{"bundle", "diff", old, next}, 0,
			[]string{"MOVES (BY COMPONENT)", "coredns-image", "3 of 3", "(image-index)", "Bytes to move:"}, nil, false},
		{"diff json", []string{"bundle", "diff", old, next, "-o", "json"}, 0, []string{`"byComponent"`, `"component": "coredns-image"`}, nil, true},
		{"inspect patch", []string{"bundle", "inspect", patch}, 0, []string{"Patch of    test v1.31.4-test"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := berth(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.json {
				var v map[string]any
				if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&v); err != nil {
					t.Errorf("stdout is not JSON: %v\n%s", err, out)
				}
			}
		})
	}
}
