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

// What the tar stream may hold besides the files a manifest lists: before the manifest is read, room for the
// manifest, its signature and their headers; per listed file, its header blocks (a PAX header for long names)
// and padding; at the end, the end-of-archive blocks.
const (
	headAllowance  = maxManifestSize + maxSignatureSize + 4<<20
	entryAllowance = 4 << 10
	tailAllowance  = 16 << 10
)

// errOverBudget stops the tar reader when the archive holds more than the manifest accounts for.
var errOverBudget = errors.New("more than the manifest accounts for")

// budget counts the uncompressed bytes the tar reader takes and refuses more than limit. A few MiB of zstd
// decompress to terabytes, so without a limit an entry the manifest does not list, or data after the archive,
// would be read (decompressed and hashed) to its end, however large, before being refused.
type budget struct {
	r     io.Reader
	read  int64
	limit int64
}

func (b *budget) Read(p []byte) (int, error) {
	if b.read >= b.limit {
		return 0, errOverBudget
	}
	if rest := b.limit - b.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// stream reads a bundle's tar entries one by one without extracting anything.
type stream struct {
	path   string
	f      *os.File
	size   int64 // of the file when it was opened
	cnt    *countingReader
	zr     *zstd.Decoder
	budget *budget
	tr     *tar.Reader
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
	b := &budget{r: zr, limit: headAllowance}
	return &stream{path: path, f: f, size: st.Size(), cnt: cnt, zr: zr, budget: b, tr: tar.NewReader(b)}, nil
}

// allow sets how much the rest of the archive may hold: files entries of size bytes in all, their headers, and
// its end.
func (s *stream) allow(files int, size int64) {
	s.budget.limit = s.budget.read + size + int64(files)*entryAllowance + tailAllowance
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

// finish checks that the zstd stream ends where the tar archive does. It reads at most one byte past the end:
// whatever follows is refused without being decompressed.
func (s *stream) finish() error {
	var one [1]byte
	n, err := io.ReadFull(s.zr, one[:])
	switch {
	case n > 0:
		return &VerifyError{Bundle: s.path, Problems: []Problem{{File: s.path,
			Problem: "unexpected data after the end of the tar archive"}}}
	case err == io.EOF:
		return nil
	}
	return s.broken(err)
}

// broken describes a read failure as a truncated or corrupt bundle, naming the entry being read.
func (s *stream) broken(err error) error {
	where := "before the first entry"
	if s.last != "" {
		where = "in or after entry " + s.last
	}
	if errors.Is(err, errOverBudget) {
		return &VerifyError{Bundle: s.path, Problems: []Problem{{File: s.path, Problem: fmt.Sprintf(
			"the archive holds more than %s lists (%d bytes, %s): refused without reading further", ManifestPath, s.budget.read, where)}}}
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
