package remote

import (
	"io"
	"sync/atomic"
	"time"
)

// progressEvery is how often a running upload reports progress.
const progressEvery = 250 * time.Millisecond

// countingReader counts bytes as they are read for sending, and reports them at most every progressEvery.
type countingReader struct {
	r        io.Reader
	total    int64
	n        int64
	progress func(sent, total int64)
	counter  *atomic.Int64
	last     time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.counter.Add(int64(n))
	c.report(false)
	return n, err
}

func (c *countingReader) report(final bool) {
	if c.progress == nil {
		return
	}
	if now := time.Now(); final || now.Sub(c.last) >= progressEvery {
		c.last = now
		c.progress(c.n, c.total)
	}
}
