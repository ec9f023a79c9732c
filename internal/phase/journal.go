package phase

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// journalVersion is the format version of journal files this berth writes and reads.
const journalVersion = 1

// Journal records what a run of an action achieved on a cluster: each phase's and each host's outcome, and the
// digests of the inputs the run used. A later run with the same inputs skips what is done; with different inputs
// it is told what changed. It is saved (atomically, 0600) after every change, so a killed run loses nothing.
type Journal struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	data journalData
}

type journalData struct {
	Version int                     `json:"version"`
	Action  string                  `json:"action,omitempty"`
	Inputs  map[string]InputRecord  `json:"inputs"`
	Phases  map[string]*PhaseRecord `json:"phases"`
	Started time.Time               `json:"started"`
	Updated time.Time               `json:"updated"`
}

// InputRecord is the recorded digest of one input, with the digests of its parts (hosts of an inventory, say).
type InputRecord struct {
	Digest string            `json:"digest"`
	Parts  map[string]string `json:"parts,omitempty"`
}

// PhaseRecord is the recorded outcome of one phase.
type PhaseRecord struct {
	Status   Status                `json:"status"`
	Error    string                `json:"error,omitempty"`
	Finished time.Time             `json:"finished,omitzero"`
	Hosts    map[string]HostRecord `json:"hosts,omitempty"`
}

// HostRecord is the recorded outcome of one phase on one host.
type HostRecord struct {
	Status   Status    `json:"status"`
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished"`
}

// OpenJournal reads the journal at path, or starts an empty one when the file does not exist.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, now: time.Now, data: journalData{Version: journalVersion}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read journal: %w", err)
	default:
		if err := json.Unmarshal(b, &j.data); err != nil {
			return nil, fmt.Errorf("read journal %s: %w (move it away to start afresh)", path, err)
		}
		if j.data.Version != journalVersion {
			return nil, fmt.Errorf("journal %s has version %d, this berth reads %d (move it away to start afresh)",
				path, j.data.Version, journalVersion)
		}
	}
	if j.data.Phases == nil {
		j.data.Phases = map[string]*PhaseRecord{}
	}
	return j, nil
}

// Path returns the journal's file.
func (j *Journal) Path() string { return j.path }

// Empty reports whether the journal records nothing yet.
func (j *Journal) Empty() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.data.Phases) == 0 && len(j.data.Inputs) == 0
}

// Updated returns when the journal last changed.
func (j *Journal) Updated() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.data.Updated
}

// Phase returns a copy of the record of a phase, or nil.
func (j *Journal) Phase(name string) *PhaseRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.data.Phases[name]
	if r == nil {
		return nil
	}
	c := *r
	c.Hosts = make(map[string]HostRecord, len(r.Hosts))
	for h, hr := range r.Hosts {
		c.Hosts[h] = hr
	}
	return &c
}

// PhaseDone reports whether a phase completed.
func (j *Journal) PhaseDone(name string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.data.Phases[name]
	return r != nil && r.Status == StatusOK
}

// HostDone reports whether a phase completed on a host.
func (j *Journal) HostDone(phase, host string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.data.Phases[phase]
	return r != nil && r.Hosts[host].Status == StatusOK
}

// Reset forgets every outcome and records new inputs, for a fresh start.
func (j *Journal) Reset(action string, inputs []Input) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.data = journalData{Version: journalVersion, Action: action, Inputs: map[string]InputRecord{},
		Phases: map[string]*PhaseRecord{}, Started: j.now()}
	for _, in := range inputs {
		j.data.Inputs[in.Name] = InputRecord{Digest: in.Digest, Parts: in.Parts}
	}
	return j.saveLocked()
}

// MarkHost records the outcome of a phase on a host.
func (j *Journal) MarkHost(phase, host string, status Status, err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.recordLocked(phase)
	if r.Hosts == nil {
		r.Hosts = map[string]HostRecord{}
	}
	hr := HostRecord{Status: status, Finished: j.now()}
	if err != nil {
		hr.Error = err.Error()
	}
	r.Hosts[host] = hr
	return j.saveLocked()
}

// MarkPhase records the outcome of a phase.
func (j *Journal) MarkPhase(phase string, status Status, err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.recordLocked(phase)
	r.Status, r.Error, r.Finished = status, "", j.now()
	if err != nil {
		r.Error = err.Error()
	}
	return j.saveLocked()
}

func (j *Journal) recordLocked(phase string) *PhaseRecord {
	r := j.data.Phases[phase]
	if r == nil {
		r = &PhaseRecord{Status: "running"}
		j.data.Phases[phase] = r
	}
	return r
}

// saveLocked writes the journal to a temporary file, syncs it and renames it over the old one.
func (j *Journal) saveLocked() error {
	j.data.Updated = j.now()
	b, err := json.MarshalIndent(&j.data, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(j.path, append(b, '\n'))
}

// writeFileAtomic replaces path with data (mode 0600), so a crash leaves the old or the new file, never half.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
