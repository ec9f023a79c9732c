package phase

import (
	"encoding/json"
	"io"
)

// JSONLines writes every event as one line of JSON the moment it happens, for programs that follow a long run
// (`berth install --events FILE`): a dashboard, a change ticket, `tail -f | jq`. Each line is one Event as its JSON
// tags name it; durations are in nanoseconds. Progress events are thinned to one per percent per host and transfer
// (and the last one), so a gigabyte upload is a hundred lines, not a hundred thousand.
//
//	{"time":"2026-12-06T02:00:01Z","kind":"phase-start","phase":"stage","title":"Stage bundle on hosts","step":4,"steps":16}
//	{"time":"2026-12-06T02:00:03Z","kind":"host-finish","phase":"stage","title":"Stage bundle on hosts","host":"cp1","status":"ok","duration":2100000000}
type JSONLines struct {
	w        io.Writer
	progress map[string]int64 // last percent written per phase/host/transfer
	err      error
}

// NewJSONLines writes to w, one Write per event: w sees each line whole and at once.
func NewJSONLines(w io.Writer) *JSONLines {
	return &JSONLines{w: w, progress: map[string]int64{}}
}

// Observe writes e. After a failed write it writes nothing more; Err says why.
func (j *JSONLines) Observe(e Event) {
	if j.err != nil {
		return
	}
	if e.Kind == Progress && e.Total > 0 {
		key := e.Phase + "\x00" + e.Host + "\x00" + e.Message
		pct := e.Done * 100 / e.Total
		if last, ok := j.progress[key]; ok && pct <= last && e.Done < e.Total {
			return
		}
		j.progress[key] = pct
	}
	line, err := json.Marshal(e)
	if err != nil {
		j.err = err
		return
	}
	_, j.err = j.w.Write(append(line, '\n'))
}

// Err returns the first error writing an event, or nil.
func (j *JSONLines) Err() error { return j.err }
