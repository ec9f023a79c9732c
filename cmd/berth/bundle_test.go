package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/bundles"
)

// writeTestBundle writes a small signed bundle holding the given files and returns its path.
func writeTestBundle(t *testing.T, keyPath, version string, files map[string]string) string {
	t.Helper()
	return writeTestBundleFor(t, keyPath, version, "amd64", files)
}

// writeTestBundleFor is writeTestBundle for a given target architecture.
func writeTestBundleFor(t *testing.T, keyPath, version, arch string, files map[string]string) string {
	t.Helper()
	var priv []byte
	if keyPath != "" {
		priv = []byte(keyPath)
	}
	m := &bundles.Manifest{APIVersion: bundles.APIVersion, Kind: bundles.ManifestKind, Name: "cli", Version: version,
		KubernetesVersion: version, Target: bundles.Target{OS: "linux", Arch: arch, Distro: "debian-12"},
		Components: []bundles.Component{{Name: "kubernetes", Version: version, Source: "test"}},
		Provenance: bundles.Provenance{Builder: "test", BuildTime: time.Unix(0, 0).UTC()}}
	for _, p := range sortedPaths(files) {
		sum := sha256.Sum256([]byte(files[p]))
		m.Files = append(m.Files, bundles.File{Path: p, Size: int64(len(files[p])), SHA256: hex.EncodeToString(sum[:]), Mode: 0o755, Kind: bundles.KindBinary})
	}
	opts := bundles.WriteOptions{}
	if priv != nil {
		k, err := bundles.LoadPrivateKey(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		opts.SignKey = k
	}
	out := filepath.Join(t.TempDir(), "b-"+version+"-"+arch+".tar")
	err := bundles.Write(context.Background(), out, m, func(f bundles.File) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(files[f.Path])), nil
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedPaths(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestBundleCommands(t *testing.T) {
	t.Setenv("BERTH_BUNDLE_KEY", "") // make test sets it for the lab bundle; these cases choose their keys
	dir := t.TempDir()
	prefix := filepath.Join(dir, "keys", "signing")
	code, out, errOut := berth(t, "keygen", prefix)
	if code != 0 || !strings.Contains(out, "key ID") {
		t.Fatalf("keygen: %d %q %q", code, out, errOut)
	}
	if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	if code, _, errOut := berth(t, "keygen", prefix); code == 0 || !strings.Contains(errOut, "never overwrites") {
		t.Fatalf("keygen over an existing key: %d %q", code, errOut)
	}

	v1 := writeTestBundle(t, prefix+".key", "v1.31.4", map[string]string{"bin/kubeadm": "kubeadm 1.31", "bin/cni/bridge": "bridge"})
	v2 := writeTestBundle(t, prefix+".key", "v1.32.5", map[string]string{"bin/kubeadm": "kubeadm 1.32", "bin/cni/bridge": "bridge"})
	unsigned := writeTestBundle(t, "", "v1.31.4", map[string]string{"bin/kubeadm": "kubeadm 1.31"})
	v1arm := writeTestBundleFor(t, prefix+".key", "v1.31.4", "arm64", map[string]string{"bin/kubeadm": "kubeadm 1.31", "bin/cni/bridge": "bridge"})

	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		jsonBody bool
	}{
		{"verify signed", []string{"bundle", "verify", v1, "--key", prefix + ".pub"}, 0, []string{"OK", "signed by trusted key", "2 files"}, nil, false},
		{"verify json", []string{"bundle", "verify", v1, "--key", prefix + ".pub", "-o", "json"}, 0, []string{`"valid": true`}, nil, true},
		{"verify without key", []string{"bundle", "verify", v1}, 1, nil, []string{"manifest.yaml.sig", "no trusted public key"}, false},
		{"verify unsigned", []string{"bundle", "verify", unsigned, "--key", prefix + ".pub"}, 1, nil, []string{"manifest.yaml.sig: missing"}, false},
		{"verify unsigned json", []string{"bundle", "verify", unsigned, "--key", prefix + ".pub", "-o", "json"}, 1, []string{`"valid": false`, "manifest.yaml.sig"}, nil, true},
		{"verify unsigned insecure", []string{"bundle", "verify", unsigned, "--insecure-skip-signature"}, 0, []string{"UNSIGNED"}, []string{"WARNING", "NOT enforced"}, false},
		{"inspect", []string{"bundle", "inspect", v1}, 0, []string{"v1.31.4", "bin/kubeadm", "not checked"}, nil, false},
		{"inspect json", []string{"bundle", "inspect", v1, "--key", prefix + ".pub", "-o", "json"}, 0, []string{`"signatureVerified": true`, `"kubernetesVersion": "v1.31.4"`}, nil, true},
		{"diff", []string{"bundle", "diff", v1, v2}, 0, []string{"Kubernetes v1.31.4 -> v1.32.5", "bin/kubeadm", "Bytes to move: 12 B"}, nil, false},
		{"diff json", []string{"bundle", "diff", v1, v2, "-o", "json"}, 0, []string{`"bytesToMove": 12`}, nil, true},
		{"diff architecture", []string{"bundle", "diff", v1, v1arm}, 0, []string{"Target linux/amd64 debian-12 -> linux/arm64 debian-12"}, nil, false},
		{"diff architecture json", []string{"bundle", "diff", v1, v1arm, "-o", "json"}, 0, []string{`"to": "linux/arm64 debian-12"`}, nil, true},
		{"build without spec", []string{"bundle", "build"}, 2, nil, []string{"missing the required flags -f/--file, --out", "See 'berth bundle build --help'."}, false},
		{"build -o FILE is deprecated", []string{"bundle", "build", "-f", filepath.Join(dir, "nospec.yaml"), "-o", filepath.Join(dir, "x.tar")}, 1, nil,
			[]string{"'-o " + filepath.Join(dir, "x.tar") + "' is deprecated for the file to write: use --out", "nospec.yaml"}, false},
		{"build -o FILE with --out", []string{"bundle", "build", "-f", "s.yaml", "--out", "a.tar", "-o", "b.tar"}, 2, nil, []string{"the file to write is --out, given already"}, false},
		{"verify yaml", []string{"bundle", "verify", v1, "--key", prefix + ".pub", "-o", "yaml"}, 0, []string{"valid: true", "manifestDigest: sha256:"}, nil, false},
		{"inspect yaml", []string{"bundle", "inspect", v1, "-o", "yaml"}, 0, []string{"kubernetesVersion: v1.31.4", "signedBy: "}, nil, false},
		{"verify missing file", []string{"bundle", "verify", filepath.Join(dir, "nope.tar"), "--key", prefix + ".pub"}, 1, nil, []string{"nope.tar"}, false},
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
			if tc.jsonBody {
				var v map[string]any
				if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&v); err != nil {
					t.Errorf("stdout is not JSON: %v\n%s", err, out)
				}
			}
		})
	}

	// With no --key, the trusted keys come from $BERTH_BUNDLE_KEY (comma-separated).
	other := filepath.Join(dir, "keys", "other")
	if code, _, errOut := berth(t, "keygen", other); code != 0 {
		t.Fatalf("keygen: %s", errOut)
	}
	t.Setenv("BERTH_BUNDLE_KEY", other+".pub")
	if code, _, errOut := berth(t, "bundle", "verify", v1); code != 1 || !strings.Contains(errOut, "not a trusted key") {
		t.Errorf("verify with only another key in $BERTH_BUNDLE_KEY: exit %d\n%s", code, errOut)
	}
	t.Setenv("BERTH_BUNDLE_KEY", other+".pub,"+prefix+".pub")
	if code, out, errOut := berth(t, "bundle", "verify", v1); code != 0 || !strings.Contains(out, "signed by trusted key") {
		t.Errorf("verify with the key in $BERTH_BUNDLE_KEY: exit %d\n%s%s", code, out, errOut)
	}
}
