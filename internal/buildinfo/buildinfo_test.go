package buildinfo

import "testing"

func TestIsSemver(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.1.0": true, "v1.2.3-rc.1": true, "v0.1.0-3-gabc1234-dirty": true, "v0.1.0+build.5": true, DevVersion: true,
		"": false, "dev": false, "2d99d47": false, "2d99d47-dirty": false, "0.1.0": false, "v1.2": false, "v01.2.3": false,
	} {
		if got := IsSemver(v); got != want {
			t.Errorf("IsSemver(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestGetAlwaysGivesASemanticVersion: the Makefile used to set Version to `git describe --always`, a bare commit
// when the repository has no tag; berth version then showed no version at all.
func TestGetAlwaysGivesASemanticVersion(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	for set, want := range map[string]string{"": DevVersion, "2d99d47-dirty": DevVersion, "v0.3.1": "v0.3.1"} {
		Version = set
		if got := Get().Version; got != want {
			t.Errorf("Version %q: Get().Version = %q, want %q", set, got, want)
		}
	}
}
