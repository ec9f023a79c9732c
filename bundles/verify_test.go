package bundles

import (
	"context"
	"strings"
	"testing"
)

// TestVerifyNothingAfterSignature: a signed bundle whose archive ends right after manifest.yaml.sig. Verify
// returned nil, nil (a shadowed err), so verify and install panicked on the nil result. Every listed file must
// be reported missing, and a manifest that lists nothing verifies with a result.
func TestVerifyNothingAfterSignature(t *testing.T) {
	f := newFixture(t)
	head := readEntries(t, f.write(t, f.priv))[:2]
	truncated := writeEntries(t, head)
	expectRefused(t, truncated, f.opts(), "bin/kubeadm", "missing: listed in manifest.yaml but not in the archive")
	if b, err := Open(context.Background(), truncated, f.opts()); err == nil || b != nil {
		t.Fatalf("Open = %v, %v; want a refusal", b, err)
	}

	empty := newFixture(t)
	empty.manifest.Files, empty.manifest.Images, empty.manifest.Packages, empty.manifest.Charts = nil, nil, nil, nil
	res, err := Verify(context.Background(), empty.write(t, empty.priv), empty.opts())
	if err != nil || res == nil || res.Manifest == nil || !res.Signed || res.Files != 0 {
		t.Fatalf("Verify of a signed bundle that lists nothing = %+v, %v; want a result with 0 files", res, err)
	}
}

// TestVerifyNothingAfterManifest: the unsigned counterpart, accepted only with InsecureSkipSignature.
func TestVerifyNothingAfterManifest(t *testing.T) {
	f := newFixture(t)
	head := readEntries(t, f.write(t, nil))[:1]
	expectRefused(t, writeEntries(t, head), VerifyOptions{InsecureSkipSignature: true}, "bin/kubeadm", "missing")
	if _, err := Verify(context.Background(), writeEntries(t, head), f.opts()); err == nil || !strings.Contains(err.Error(), SignaturePath) {
		t.Fatalf("unsigned and truncated: %v", err)
	}
}
