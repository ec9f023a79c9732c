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

// State is a cluster's state directory opened for one run of an action: the lock held, the journal loaded.
type State struct {
	Dir     string
	Lock    *Lock
	Journal *Journal
}

// OpenState takes the cluster's lock and opens the action's journal, in StateDir(base, cluster). Close releases the
// lock. Dry runs, which change nothing, can read the journal without the lock: OpenJournal(JournalPath(...)).
func OpenState(base, cluster, action string, lock LockOptions) (*State, error) {
	dir, err := StateDir(base, cluster)
	if err != nil {
		return nil, err
	}
	l, err := AcquireLock(filepath.Join(dir, LockFile), lock)
	if err != nil {
		return nil, err
	}
	j, err := OpenJournal(JournalPath(dir, action))
	if err != nil {
		l.Release()
		return nil, err
	}
	return &State{Dir: dir, Lock: l, Journal: j}, nil
}

// Close releases the lock.
func (s *State) Close() error { return s.Lock.Release() }
