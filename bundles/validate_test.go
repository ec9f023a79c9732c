package bundles

import (
	"strings"
	"testing"
)

func TestManifestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(m *Manifest)
		want   string
	}{
		{"unsorted files", func(m *Manifest) { m.Files[0], m.Files[1] = m.Files[1], m.Files[0] }, "out of order"},
		{"duplicate file", func(m *Manifest) { m.Files[1] = m.Files[0] }, "listed twice"},
		{"escaping path", func(m *Manifest) { m.Files[0].Path = "../etc/passwd" }, "clean relative path"},
		{"absolute path", func(m *Manifest) { m.Files[0].Path = "/bin/x" }, "clean relative path"},
		{"manifest as file", func(m *Manifest) { m.Files[0].Path = ManifestPath }, "clean relative path"},
		{"bad digest", func(m *Manifest) { m.Files[0].SHA256 = "abc" }, "64 lower-case hex"},
		{"blob name differs", func(m *Manifest) {
			for i, f := range m.Files {
				if f.Kind == KindImageBlob {
					m.Files[i].SHA256 = strings.Repeat("0", 64)
					return
				}
			}
		}, "blob name and sha256"},
		{"image blob missing", func(m *Manifest) { m.Images[0].Layers = append(m.Images[0].Layers, "sha256:"+strings.Repeat("a", 64)) }, "not in files"},
		{"package digest differs", func(m *Manifest) { m.Packages[0].SHA256 = strings.Repeat("b", 64) }, "package socat"},
		{"ref claimed twice", func(m *Manifest) { m.Images[1].Refs = append(m.Images[1].Refs, m.Images[0].Refs[0]) }, "claimed by both"},
		{"wrong version", func(m *Manifest) { m.APIVersion = "bundle.berth.sh/v9" }, "apiVersion/kind"},
		{"no refs", func(m *Manifest) { m.Images[0].Refs = nil }, "has no refs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.manifest.Validate(); err != nil {
				t.Fatalf("fixture invalid: %v", err)
			}
			tc.change(f.manifest)
			err := f.manifest.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestManifestRoundTrip(t *testing.T) {
	f := newFixture(t)
	data, err := f.manifest.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Marshal()
	if string(again) != string(data) {
		t.Fatalf("manifest changes on a round trip:\n%s\n---\n%s", data, again)
	}
	if !strings.Contains(string(data), `mode: "0755"`) && !strings.Contains(string(data), "mode: \"0644\"") {
		t.Fatalf("modes are not written in octal:\n%s", data)
	}
	if _, err := ParseManifest(append(data, []byte("surprise: field\n")...)); err == nil || !strings.Contains(err.Error(), "surprise") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

// TestManifestDigestsAreHex: every sha256 a manifest gives is 64 lower-case hex digits; a package or chart may
// not leave its digest out (the checks comparing it with files skipped an empty one).
func TestManifestDigestsAreHex(t *testing.T) {
	cases := map[string]func(m *Manifest){
		"package without digest": func(m *Manifest) { m.Packages[0].SHA256 = "" },
		"chart without digest":   func(m *Manifest) { m.Charts[0].SHA256 = "" },
		"upper-case file digest": func(m *Manifest) { m.Files[0].SHA256 = strings.ToUpper(m.Files[0].SHA256) },
		"shell in a digest":      func(m *Manifest) { m.Files[0].SHA256 = "$(reboot)" + m.Files[0].SHA256[9:] },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			change(f.manifest)
			if err := f.manifest.Validate(); err == nil || !strings.Contains(err.Error(), "64 lower-case hex") {
				t.Fatalf("err = %v, want a refusal naming the digest format", err)
			}
		})
	}
}
