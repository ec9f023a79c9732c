package inventory

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/localfile"
)

// SecretRef points at a secret without containing it: "env:VAR" reads an environment variable, "file:PATH" reads a
// file (relative paths are resolved against the inventory file). Secrets are never written inline.
type SecretRef string

// Kind returns "env" or "file", or "" when the reference has neither prefix.
func (s SecretRef) Kind() string {
	k, _, ok := strings.Cut(string(s), ":")
	if !ok || (k != "env" && k != "file") {
		return ""
	}
	return k
}

// Target returns the variable name or file path the reference points at.
func (s SecretRef) Target() string {
	_, t, _ := strings.Cut(string(s), ":")
	return t
}

// IsZero reports whether no reference is set.
func (s SecretRef) IsZero() bool { return s == "" }

// Resolve reads the secret. baseDir resolves relative file paths. A file must be a regular file of at most 64 KiB
// (a FIFO or /dev/zero is refused at once). Errors name the reference, never the value.
func (s SecretRef) Resolve(baseDir string) (string, error) {
	switch s.Kind() {
	case "env":
		v, ok := os.LookupEnv(s.Target())
		if !ok {
			return "", fmt.Errorf("secret %s: environment variable %s is not set", s, s.Target())
		}
		return v, nil
	case "file":
		b, _, err := localfile.Read(s.file(baseDir), localfile.SecretLimit)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", s, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", fmt.Errorf("secret reference must start with env: or file: (value not shown)")
}

// file is the path of a file: reference, relative paths resolved against baseDir.
func (s SecretRef) file(baseDir string) string {
	p := s.Target()
	if !strings.HasPrefix(p, "/") && baseDir != "" {
		p = baseDir + "/" + p
	}
	return p
}

// Duration is a time.Duration written as "10s", "2m".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes the duration as text (JSON output).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "10s"-style text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
