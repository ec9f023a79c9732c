package upgrade

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Kubernetes release: v1.32.5.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion reads "v1.32.5" (a leading v optional; anything after the patch, "-rc.1" or "+build", is ignored).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MinorString is "1.32".
func (v Version) MinorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare returns -1, 0 or 1 as v is older than, the same as, or newer than o.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// MinorsBehind returns how many minor releases v is behind o (negative when v is newer). Majors other than 1 are
// not Kubernetes releases berth knows; they count as far apart.
func (v Version) MinorsBehind(o Version) int {
	if v.Major != o.Major {
		return 100 * (o.Major - v.Major)
	}
	return o.Minor - v.Minor
}

// MaxKubeletSkew is how many minors a kubelet may stay behind the API server (the upstream skew policy since 1.28,
// enforced by kubeadm since 1.29). A kubelet is never newer than the API server.
const MaxKubeletSkew = 3
