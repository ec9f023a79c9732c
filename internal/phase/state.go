package phase

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// LockFile is the name of the lock in a cluster's state directory.
const LockFile = "lock"

// LockPath returns the lock file of a cluster's state directory.
func LockPath(stateDir string) string { return filepath.Join(stateDir, LockFile) }

// JournalPath returns the journal file of an action ("install", "upgrade") in a cluster's state directory.
func JournalPath(stateDir, action string) string {
	return filepath.Join(stateDir, "journal-"+action+".json")
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// StateDir returns the directory holding a cluster's journal and lock: <base>/clusters/<cluster>, where base is
// the given override, else $XDG_STATE_HOME/berth, else ~/.local/state/berth. It creates it with mode 0700.
func StateDir(base, cluster string) (string, error) {
	if !clusterName.MatchString(cluster) {
		return "", fmt.Errorf("cluster name %q cannot name a state directory (metadata.name must be lower-case letters, digits and '-')", cluster)
	}
	if base == "" {
		if x := os.Getenv("XDG_STATE_HOME"); x != "" {
			base = filepath.Join(x, "berth")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", errors.New("no home directory for the state directory: pass --state-dir")
			}
			base = filepath.Join(home, ".local", "state", "berth")
		}
	}
	dir := filepath.Join(base, "clusters", cluster)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create state directory: %w", err)
	}
	return dir, nil
}
