package bundles

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/berthsh/berth/internal/localfile"
	"github.com/klauspost/compress/zstd"
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Decoder limits: a bundle is written with an 8 MiB window (see writer.go); anything asking for far more is not
// a berth bundle and would break the memory bound of streaming verification.
const (
	maxDecoderWindow = 64 << 20
	maxDecoderMemory = 128 << 20
)

// stream reads a bundle's tar entries one by one without extracting anything.
type stream struct {
	path string
	f    *os.File
	size int64 // of the file when it was opened
	cnt  *countingReader
	zr   *zstd.Decoder
	tr   *tar.Reader
	// last is the name of the entry being read, for error messages.
	last string
	// payload counts the uncompressed bytes read through the tar reader.
	payload int64
}

// countingReader counts bytes read from the compressed file.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openStream opens a bundle file for streaming. Only a regular file is a bundle: a FIFO would block the read (and
// the open) forever, a device never end. That is judged on the opened file, so it holds for what is read.
func openStream(path string) (*stream, error) {
	f, st, err := localfile.Open(path)
	var nr *localfile.NotRegularError
	if errors.As(err, &nr) {
		return nil, &VerifyError{Bundle: path, Problems: []Problem{{File: path,
			Problem: localfile.Describe(nr.Mode) + ", not a regular file: name the bundle file itself"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head, err := br.Peek(len(zstdMagic))
	if err != nil || string(head) != string(zstdMagic) {
		f.Close()
		return nil, &VerifyError{Bundle: path, Problems: []Problem{{File: path,
			Problem: "not a berth bundle: it does not start with a zstd frame (is it truncated to nothing, or a plain tar?)"}}}
	}
	cnt := &countingReader{r: br}
	zr, err := zstd.NewReader(cnt,
		zstd.WithDecoderConcurrency(2),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDecoderMemory))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open zstd stream of %s: %w", path, err)
	}
	return &stream{path: path, f: f, size: st.Size(), cnt: cnt, zr: zr, tr: tar.NewReader(zr)}, nil
}

// next returns the next entry header, io.EOF at the end of the archive, or a *VerifyError naming where the archive
// broke off.
func (s *stream) next() (*tar.Header, error) {
	h, err := s.tr.Next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, s.broken(err)
	}
	s.last = h.Name
	return h, nil
}

// nextOrEnd is next, with the end of the archive as a nil header and a nil error.
func (s *stream) nextOrEnd() (*tar.Header, error) {
	h, err := s.next()
	if err == io.EOF {
		return nil, nil
	}
	return h, err
}

// read returns a reader over the current entry's content that counts payload bytes and turns decoder failures
// into truncation problems.
func (s *stream) read() io.Reader { return &entryReader{s: s} }

type entryReader struct{ s *stream }

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.s.tr.Read(p)
	e.s.payload += int64(n)
	if err != nil && err != io.EOF {
		return n, e.s.broken(err)
	}
	return n, err
}

// finish checks that nothing but zstd padding follows the tar's end-of-archive marker.
func (s *stream) finish() error {
	n, err := io.Copy(io.Discard, s.zr)
	if err != nil {
		return s.broken(err)
	}
	if n > 0 {
		return &VerifyError{Bundle: s.path, Problems: []Problem{{File: s.path,
			Problem: fmt.Sprintf("%d bytes of unexpected data after the end of the tar archive", n)}}}
	}
	return nil
}

// broken describes a read failure as a truncated or corrupt bundle, naming the entry being read.
func (s *stream) broken(err error) error {
	where := "before the first entry"
	if s.last != "" {
		where = "in or after entry " + s.last
	}
	what := "corrupt"
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		what = "truncated"
	}
	return &VerifyError{Bundle: s.path, Problems: []Problem{{File: s.path, Problem: fmt.Sprintf(
		"%s %s (%d compressed bytes read): %v; copy the bundle again", what, where, s.cnt.n, err)}}}
}

// close releases the file and the decoder.
func (s *stream) close() {
	s.zr.Close()
	s.f.Close()
}
