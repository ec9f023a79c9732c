// Package digest checks sha256 digests that berth reads from files (bundle manifests, caches) before they are
// trusted: compared, put into a path, or written into a shell command on a host. One definition of a valid
// digest serves every reader.
package digest

// ValidHex reports whether s is a sha256 digest as berth writes it: exactly 64 lower-case hex digits, so that it
// can never carry a shell metacharacter, a glob, a slash or a space.
func ValidHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
