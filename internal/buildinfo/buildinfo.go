// Package buildinfo holds the version of this berth binary, set at link time by the Makefile.
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X github.com/berthsh/berth/internal/buildinfo.Version=... ".
var (
	Version = ""        // release version, e.g. v0.1.0; anything that is not a semantic version is ignored
	Commit  = "unknown" // git commit the binary was built from
	Date    = ""        // build date (RFC 3339)
)

// DevVersion is the version of a binary built without a release version (no tag, go build, go test): the next
// release, in development.
const DevVersion = "v0.1.0-dev"

// semver is vMAJOR.MINOR.PATCH with an optional pre-release and build metadata, as git describe gives for a tag
// (v0.1.0, v0.1.0-3-gabc1234-dirty).
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// IsSemver reports whether v is a semantic version with a leading v.
func IsSemver(v string) bool { return semver.MatchString(v) }

// Info describes this binary.
type Info struct {
	Version   string `json:"version"` // always a semantic version
	Commit    string `json:"commit"`
	Dirty     bool   `json:"dirty,omitempty"` // built from a work tree with uncommitted changes
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information, falling back to what the Go toolchain recorded when no ldflags were given.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !IsSemver(i.Version) {
		i.Version = DevVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "unknown":
				i.Commit = s.Value
			case s.Key == "vcs.modified":
				i.Dirty = s.Value == "true"
			}
		}
	}
	return i
}
