package remote

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
)

// pgidMarker starts the line every wrapped command prints on stderr first: it carries the remote process group,
// which cancellation kills. The line is removed from the output callers see.
const pgidMarker = "@@berth-pgid"

// tailBuffer keeps the last n bytes written to it. It is safe for concurrent writers (stdout and stderr are copied by
// different goroutines).
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	buf   []byte
	total int64
}

func newTail(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.n; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, prefixed with a note when earlier output was dropped.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if t.total > int64(len(t.buf)) {
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:] // start at a line boundary
		}
		return "[... " + strconv.FormatInt(t.total-int64(len(s)), 10) + " bytes before ...]\n" + s
	}
	return s
}

// limitBuffer keeps the first n bytes and notes whether more came. It never fails a write: failing would stop the
// copy and leave the remote command blocked on a full pipe.
type limitBuffer struct {
	n        int
	buf      bytes.Buffer
	overflow bool
}

func (l *limitBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.buf.Len(); room < len(p) {
		l.overflow = true
		if room > 0 {
			l.buf.Write(p[:room])
		}
		return len(p), nil
	}
	l.buf.Write(p)
	return len(p), nil
}

// markerFilter passes stderr through, except the marker line, whose process-group id it reports once.
type markerFilter struct {
	out     interface{ Write([]byte) (int, error) }
	pending []byte
	found   bool
	pgid    chan int
}

func newMarkerFilter(out interface{ Write([]byte) (int, error) }) *markerFilter {
	return &markerFilter{out: out, pgid: make(chan int, 1)}
}

func (m *markerFilter) Write(p []byte) (int, error) {
	if m.found {
		return m.out.Write(p)
	}
	m.pending = append(m.pending, p...)
	for !m.found {
		i := bytes.IndexByte(m.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := m.pending[:i]
		rest := m.pending[i+1:]
		if v, ok := bytes.CutPrefix(line, []byte(pgidMarker+" ")); ok {
			if id, err := strconv.Atoi(string(v)); err == nil {
				m.found = true
				m.pgid <- id
			}
			m.pending = rest
			continue
		}
		// Lines before the marker (sudo warnings) are ordinary output.
		m.out.Write(m.pending[:i+1])
		m.pending = rest
	}
	if len(m.pending) > 0 {
		m.out.Write(m.pending)
	}
	m.pending = nil
	return len(p), nil
}

// flush writes what is held back (output of a command that never printed the marker).
func (m *markerFilter) flush() {
	if len(m.pending) > 0 {
		m.out.Write(m.pending)
		m.pending = nil
	}
}

// started reports whether the wrapped command began (the marker was seen).
func (m *markerFilter) started() bool { return m.found }
