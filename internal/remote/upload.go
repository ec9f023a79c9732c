package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/digest"
)

// UploadOptions tune one upload.
type UploadOptions struct {
	Mode     fs.FileMode             // permission bits of the destination; 0 means 0644
	Digest   string                  // sha256 (hex) of the source when already known (from a bundle manifest)
	Progress func(sent, total int64) // called from time to time while bytes move, and once at the end
}

// UploadResult says what an upload did.
type UploadResult struct {
	Host     string        `json:"host"`
	Dst      string        `json:"dst"`
	Digest   string        `json:"sha256"`
	Size     int64         `json:"size"`
	Sent     int64         `json:"sent"`    // bytes moved over the wire: 0 when skipped
	Skipped  bool          `json:"skipped"` // the destination already had this content
	Duration time.Duration `json:"duration"`
}

// Upload copies the local file src to dst on the host, unless dst already has the same sha256. The file is written
// under a temporary name, its sha256 is checked on the host, and only then is it renamed to dst, so dst is never
// half-written. On hosts that use sudo the file is staged in the login user's home and moved into place as root.
// When opts.Digest is empty the source is hashed while it is sent (or before, only when dst has the same size).
func (e *Executor) Upload(ctx context.Context, src, dst string, opts UploadOptions) (UploadResult, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return UploadResult{}, fmt.Errorf("upload to %s: %w", e.Host(), err)
	}
	if !fi.Mode().IsRegular() {
		return UploadResult{}, fmt.Errorf("upload %s to %s: not a regular file", src, e.Host())
	}
	open := func() (io.ReadCloser, error) { return os.Open(src) }
	hash := func(ctx context.Context) (string, error) { return fileDigest(ctx, src) }
	return e.put(ctx, open, hash, fi.Size(), dst, opts)
}

// WriteFile writes data to dst on the host the way Upload does (skip when identical, verify, rename).
func (e *Executor) WriteFile(ctx context.Context, dst string, data []byte, opts UploadOptions) (UploadResult, error) {
	if opts.Digest == "" {
		sum := sha256.Sum256(data)
		opts.Digest = hex.EncodeToString(sum[:])
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return e.put(ctx, open, nil, int64(len(data)), dst, opts)
}

// ReadFile returns the content of a file on the host, read as root where the host uses sudo.
func (e *Executor) ReadFile(ctx context.Context, p string) ([]byte, error) {
	res, err := e.Run(ctx, Cmd{Command: "cat -- " + Quote(p)})
	return []byte(res.Stdout), err
}

// FileDigest returns the hex sha256 of a local file.
func FileDigest(p string) (string, error) { return fileDigest(context.Background(), p) }

func fileDigest(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e *Executor) put(ctx context.Context, open func() (io.ReadCloser, error), hash func(context.Context) (string, error), size int64, dst string, opts UploadOptions) (UploadResult, error) {
	start := time.Now()
	res := UploadResult{Host: e.Host(), Dst: dst, Digest: strings.ToLower(opts.Digest), Size: size}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	fail := func(err error) (UploadResult, error) {
		res.Duration = time.Since(start)
		return res, fmt.Errorf("upload %s to %s: %w", dst, e.Host(), err)
	}
	if !path.IsAbs(dst) {
		return fail(errors.New("destination must be an absolute path"))
	}
	if res.Digest != "" && !digest.ValidHex(res.Digest) { // it goes into the shell of finalize
		return fail(fmt.Errorf("sha256 %q is not 64 lower-case hex digits", opts.Digest))
	}

	// Hash the source while the host looks at dst; the digest is only needed when dst has the same size.
	var hashed chan hashResult
	if res.Digest == "" && hash != nil {
		hctx, stopHash := context.WithCancel(ctx)
		defer stopHash() // not needed when dst differs: the digest is computed while sending instead
		hashed = make(chan hashResult, 1)
		go func() { d, err := hash(hctx); hashed <- hashResult{d, err} }()
	}
	have, err := e.probe(ctx, dst, size)
	if err != nil {
		return fail(err)
	}
	if have.digest != "" && hashed != nil {
		h := <-hashed
		if h.err != nil {
			return fail(h.err)
		}
		res.Digest = h.digest
	}
	if have.digest != "" && have.digest == res.Digest {
		if have.mode != mode {
			if _, err := e.Exec(ctx, fmt.Sprintf("chmod %o -- %s", mode, Quote(dst))); err != nil {
				return fail(fmt.Errorf("fix mode of identical file: %w", err))
			}
		}
		res.Skipped = true
		res.Duration = time.Since(start)
		if opts.Progress != nil {
			opts.Progress(size, size)
		}
		e.log.Debug("upload skipped: destination already has the content", "dst", dst, "sha256", res.Digest[:12])
		return res, nil
	}

	stage, tmp, err := e.stagingPaths(ctx, dst)
	if err != nil {
		return fail(err)
	}
	n, sum, err := e.send(ctx, open, size, stage, opts.Progress)
	res.Sent = n
	if err == nil && res.Digest != "" && sum != res.Digest {
		err = fmt.Errorf("source sha256 is %s, expected %s", sum, res.Digest)
	}
	if err != nil {
		e.removeStaging(stage)
		return fail(err)
	}
	res.Digest = sum
	if err := e.finalize(ctx, stage, tmp, dst, sum, mode); err != nil {
		e.removeStaging(stage)
		return fail(err)
	}
	res.Duration = time.Since(start)
	e.log.Debug("uploaded", "dst", dst, "bytes", n, "took", res.Duration.Round(time.Millisecond))
	return res, nil
}

type hashResult struct {
	digest string
	err    error
}

// existing describes the destination before an upload: digest is set only when its size matched.
type existing struct {
	digest string
	mode   fs.FileMode
}

// probe looks at dst on the host; it hashes dst only when dst has the expected size.
func (e *Executor) probe(ctx context.Context, dst string, size int64) (existing, error) {
	have, err := e.probeAll(ctx, []UploadResult{{Dst: dst, Size: size}})
	return have[0], err
}

// stagingPaths picks where bytes land first (stage) and the temporary name next to dst they are verified under.
func (e *Executor) stagingPaths(ctx context.Context, dst string) (stage, tmp string, err error) {
	suffix := randomSuffix()
	dir, base := path.Split(dst)
	tmp = path.Join(dir, "."+base+".berth-"+suffix+".tmp")
	if !e.Sudo() {
		// The login user can write next to dst: send straight to the temporary name.
		if _, err := e.Run(ctx, Cmd{Command: "mkdir -p -- " + Quote(dir), NoSudo: true}); err != nil {
			return "", "", fmt.Errorf("create %s: %w", dir, err)
		}
		return tmp, tmp, nil
	}
	sdir, err := e.stagingDir(ctx)
	if err != nil {
		return "", "", err
	}
	return path.Join(sdir, base+"."+suffix+".part"), tmp, nil
}

// stagingDir returns (creating it once per connection) the login user's private upload directory.
func (e *Executor) stagingDir(ctx context.Context) (string, error) {
	e.mu.Lock()
	d := e.staging
	e.mu.Unlock()
	if d != "" {
		return d, nil
	}
	out, err := e.Run(ctx, Cmd{Command: `d="$HOME/.cache/berth/upload"; mkdir -p "$d" && chmod 700 "$d" && printf %s "$d"`, NoSudo: true})
	if err != nil {
		return "", fmt.Errorf("create staging directory: %w", err)
	}
	e.mu.Lock()
	e.staging = out.Stdout
	e.mu.Unlock()
	return out.Stdout, nil
}

// send writes the source to p over SFTP with many requests in flight, and returns the bytes sent and their sha256.
func (e *Executor) send(ctx context.Context, open func() (io.ReadCloser, error), size int64, p string, progress func(int64, int64)) (int64, string, error) {
	sc, err := e.sftpClient(ctx)
	if err != nil {
		return 0, "", err
	}
	src, err := open()
	if err != nil {
		return 0, "", err
	}
	defer src.Close()
	f, err := sc.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, "", fmt.Errorf("create %s: %w", p, err)
	}
	// Cancelling ctx closes the file, which makes the write loop stop.
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(src, h), total: size, progress: progress, counter: &e.uploaded}
	n, err := f.ReadFromWithConcurrency(cr, 0)
	cerr := f.Close()
	if ctx.Err() != nil {
		return n, "", context.Cause(ctx)
	}
	if err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	if err != nil {
		return n, "", fmt.Errorf("write %s: %w", p, err)
	}
	if n != size {
		return n, "", fmt.Errorf("write %s: sent %d bytes, source has %d (did it change?)", p, n, size)
	}
	cr.report(true)
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// finalize moves the staged file next to dst, sets owner and mode, checks its sha256 and renames it to dst. Any
// failure removes the temporary file, so nothing half-done is left next to dst.
func (e *Executor) finalize(ctx context.Context, stage, tmp, dst, digest string, mode fs.FileMode) error {
	t := Quote(tmp)
	var s strings.Builder
	fmt.Fprintf(&s, "mkdir -p -- %s || exit 1; ", Quote(path.Dir(dst)))
	if stage != tmp { // sent by the login user for root: the file becomes root's
		fmt.Fprintf(&s, "mv -f -- %s %s || exit 1; chown 0:0 %s || { rm -f -- %s; exit 1; }; ", Quote(stage), t, t, t)
	}
	fmt.Fprintf(&s, "chmod %o -- %s || { rm -f -- %s; exit 1; }; sum=$(set -- %s; %s | cut -c1-64); ", mode, t, t, t, HashArgs)
	fmt.Fprintf(&s, `if [ "$sum" != %s ]; then rm -f -- %s; echo %s": sha256 on the host is $sum, expected %s" >&2; exit 65; fi; `,
		digest, t, Quote(dst), digest)
	// -T: never move into a directory that happens to be called dst.
	fmt.Fprintf(&s, "mv -f -T -- %s %s || { rm -f -- %s; exit 1; }", t, Quote(dst), t)
	if _, err := e.Exec(ctx, s.String()); err != nil {
		return fmt.Errorf("verify and rename: %w", err)
	}
	return nil
}

// HashArgs is the shell that prints the sha256 of every file in "$@" (one line each, "SUM *PATH" or "SUM  PATH";
// ParseHashLine reads both) with one program, openssl where the host has it: starting a program per file costs
// more than the hashing on a busy host.
const HashArgs = `if [ $# -gt 0 ]; then if command -v openssl >/dev/null; then openssl dgst -sha256 -r -- "$@"; else sha256sum -- "$@"; fi; fi`

// ParseHashLine reads one line printed by HashArgs.
func ParseHashLine(line string) (sum, path string, ok bool) {
	sum, rest, ok := strings.Cut(line, " ")
	if !ok || len(sum) != 64 {
		return "", "", false
	}
	rest = strings.TrimPrefix(rest, " ")
	rest = strings.TrimPrefix(rest, "*")
	return sum, rest, rest != ""
}

func (e *Executor) removeStaging(p string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.Run(ctx, Cmd{Command: "rm -f -- " + Quote(p), NoSudo: true})
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
