package phase

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Input is something a run depends on, identified by digest: the inventory, the bundle. Parts optionally break it
// down (one digest per host of the inventory) so that a change can be explained precisely.
type Input struct {
	Name   string            // "inventory", "bundle"
	Digest string            // sha256 of the whole input
	Parts  map[string]string // digest per part ("host cp1"), optional
}

// NewInput digests data and, when given, each part.
func NewInput(name string, data []byte, parts map[string][]byte) Input {
	in := Input{Name: name, Digest: Digest(data)}
	if len(parts) > 0 {
		in.Parts = make(map[string]string, len(parts))
		for k, v := range parts {
			in.Parts[k] = Digest(v)
		}
	}
	return in
}

// Digest returns the hex sha256 of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// InputChange explains how an input differs from the one a journal recorded.
type InputChange struct {
	Name     string   `json:"name"`
	Old      string   `json:"old,omitempty"` // recorded digest; empty when the input is new
	New      string   `json:"new,omitempty"` // current digest; empty when the input is gone
	Added    []string `json:"added,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Modified []string `json:"modified,omitempty"`
}

func (c InputChange) String() string {
	switch {
	case c.Old == "":
		return fmt.Sprintf("%s (sha256 %s) was not part of the recorded run", c.Name, short(c.New))
	case c.New == "":
		return fmt.Sprintf("%s (sha256 %s) was used by the recorded run but not by this one", c.Name, short(c.Old))
	}
	var parts []string
	for _, p := range c.Modified {
		parts = append(parts, p+" changed")
	}
	for _, p := range c.Added {
		parts = append(parts, p+" added")
	}
	for _, p := range c.Removed {
		parts = append(parts, p+" removed")
	}
	s := fmt.Sprintf("%s changed (sha256 %s -> %s)", c.Name, short(c.Old), short(c.New))
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// Compare returns how inputs differ from what the journal recorded; nil when they match or nothing is recorded.
func (j *Journal) Compare(inputs []Input) []InputChange {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.data.Inputs) == 0 {
		return nil
	}
	var out []InputChange
	seen := map[string]bool{}
	for _, in := range inputs {
		seen[in.Name] = true
		rec, ok := j.data.Inputs[in.Name]
		if !ok {
			out = append(out, InputChange{Name: in.Name, New: in.Digest})
			continue
		}
		if rec.Digest == in.Digest {
			continue
		}
		c := InputChange{Name: in.Name, Old: rec.Digest, New: in.Digest}
		for _, k := range slices.Sorted(maps.Keys(in.Parts)) {
			old, had := rec.Parts[k]
			switch {
			case !had:
				c.Added = append(c.Added, k)
			case old != in.Parts[k]:
				c.Modified = append(c.Modified, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(rec.Parts)) {
			if _, has := in.Parts[k]; !has {
				c.Removed = append(c.Removed, k)
			}
		}
		out = append(out, c)
	}
	for _, name := range slices.Sorted(maps.Keys(j.data.Inputs)) {
		if !seen[name] {
			out = append(out, InputChange{Name: name, Old: j.data.Inputs[name].Digest})
		}
	}
	return out
}
