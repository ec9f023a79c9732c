package remote

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berthsh/berth/internal/digest"
)

// File is one file of a batch written by PutFiles.
type File struct {
	Src    string      // local file to copy; or, when empty,
	Data   []byte      // the content itself
	Dst    string      // absolute path on the host
	Mode   fs.FileMode // permission bits of the destination; 0 means 0644
	Digest string      // sha256 (hex) of the content when already known (from a bundle manifest)
}

// PutFiles writes a batch of files to the host with the guarantees of Upload: a destination that already has the
// content is left alone (its mode corrected), every other file is sent under a temporary name next to it, its
// sha256 checked on the host and only then renamed into place. The whole batch costs three commands (look at the
// destinations, stream every file in one tar, check and rename), where Upload costs two per file plus SFTP: what
// makes staging a bundle on many hosts quick. progress gets the bytes of the whole batch. On failure no temporary
// file is left behind and the error names every file that failed; files already renamed stay (each is complete
// and verified).
func (e *Executor) PutFiles(ctx context.Context, files []File, progress func(sent, total int64)) ([]UploadResult, error) {
	start := time.Now()
	res := make([]UploadResult, len(files))
	fail := func(err error) ([]UploadResult, error) {
		return res, fmt.Errorf("upload %d files to %s: %w", len(files), e.Host(), err)
	}
	modes := make([]fs.FileMode, len(files))
	for i, f := range files {
		r := UploadResult{Host: e.Host(), Dst: f.Dst, Digest: strings.ToLower(f.Digest)}
		if !path.IsAbs(f.Dst) {
			return fail(fmt.Errorf("%s: destination must be an absolute path", f.Dst))
		}
		if r.Digest != "" && !digest.ValidHex(r.Digest) { // it goes into the shell of putInPlace
			return fail(fmt.Errorf("%s: sha256 %q is not 64 lower-case hex digits", f.Dst, f.Digest))
		}
		if f.Src == "" {
			r.Size = int64(len(f.Data))
			if r.Digest == "" {
				sum := sha256.Sum256(f.Data)
				r.Digest = hex.EncodeToString(sum[:])
			}
		} else {
			fi, err := os.Stat(f.Src)
			if err != nil {
				return fail(err)
			}
			if !fi.Mode().IsRegular() {
				return fail(fmt.Errorf("%s: not a regular file", f.Src))
			}
			r.Size = fi.Size()
			if r.Digest == "" {
				if r.Digest, err = fileDigest(ctx, f.Src); err != nil {
					return fail(err)
				}
			}
		}
		modes[i] = f.Mode.Perm()
		if modes[i] == 0 {
			modes[i] = 0o644
		}
		res[i] = r
	}
	have, err := e.probeAll(ctx, res)
	if err != nil {
		return fail(err)
	}

	// What to send, and the temporary name next to its destination it lands under.
	var send []outgoing
	var total int64
	var fixes []string
	for i, r := range res {
		if h, ok := have[i]; ok && h.digest == r.Digest {
			res[i].Skipped = true
			if h.mode != modes[i] {
				fixes = append(fixes, fmt.Sprintf("chmod %o -- %s || rc=1\n", modes[i], Quote(r.Dst)))
			}
			continue
		}
		dir, base := path.Split(r.Dst)
		tmp := path.Join(dir, "."+base+".berth-"+randomSuffix()+".tmp")
		o := outgoing{i: i, size: r.Size, tmp: tmp, mode: modes[i], open: func() (io.ReadCloser, error) { return os.Open(files[i].Src) }}
		if files[i].Src == "" {
			o.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(files[i].Data)), nil }
		}
		send = append(send, o)
		total += o.size
	}
	cleanup := func() {
		if len(send) == 0 {
			return
		}
		quoted := make([]string, len(send))
		for i, o := range send {
			quoted[i] = Quote(o.tmp)
		}
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = e.Run(rctx, Cmd{Command: "rm -f -- " + strings.Join(quoted, " ")})
	}

	// Everything goes in one tar stream into one command (as root where the host uses sudo) that unpacks each
	// file under its temporary name: no round trip per file, and plain streaming, cheaper for sshd than SFTP.
	if len(send) > 0 {
		pr, pw := io.Pipe()
		wrote := make(chan error, 1)
		go func() {
			err := writeTar(pw, send, res, &e.uploaded, total, progress)
			pw.CloseWithError(err)
			wrote <- err
		}()
		_, err := e.Run(ctx, Cmd{Command: "tar -x -m -b 256 -B -f - -C / --no-same-owner --no-same-permissions", Stdin: pr})
		pr.Close()
		if werr := <-wrote; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
			err = werr // what went wrong here explains the host's "unexpected EOF"
		}
		if err != nil {
			cleanup()
			return fail(fmt.Errorf("send: %w", err))
		}
		for _, o := range send {
			res[o.i].Sent = o.size
		}
	}
	if len(send) > 0 || len(fixes) > 0 {
		script := putInPlace(send, res) + strings.Join(fixes, "") + "exit $rc\n"
		if _, err := e.Run(ctx, Cmd{Command: "sh -s", Stdin: strings.NewReader(script)}); err != nil {
			cleanup()
			return fail(fmt.Errorf("verify and rename: %w", err))
		}
	}
	if progress != nil {
		progress(total, total)
	}
	took := time.Since(start)
	for i := range res {
		res[i].Duration = took
	}
	e.log.Debug("uploaded batch", "files", len(files), "sent", len(send), "bytes", total, "took", took.Round(time.Millisecond))
	return res, nil
}

// outgoing is one file of a batch on its way: how to read it, and the temporary name it lands under.
type outgoing struct {
	i    int // index in the batch
	open func() (io.ReadCloser, error)
	size int64
	tmp  string
	mode fs.FileMode
}

// putInPlace is the shell that puts the unpacked files in place: set their modes, hash them all with one program
// (starting one per file costs more than hashing on a busy host), and rename each whose sha256 is the expected one
// to its destination; any other is removed and named on stderr, and the script's rc becomes 65.
func putInPlace(send []outgoing, res []UploadResult) string {
	var s strings.Builder
	s.WriteString("rc=0\n")
	if len(send) == 0 {
		return s.String()
	}
	byMode := map[fs.FileMode][]string{}
	var all []string
	for _, o := range send {
		byMode[o.mode] = append(byMode[o.mode], Quote(o.tmp))
		all = append(all, Quote(o.tmp))
	}
	for _, m := range slices.Sorted(maps.Keys(byMode)) {
		fmt.Fprintf(&s, "chmod %o -- %s || rc=1\n", m, strings.Join(byMode[m], " "))
	}
	list := strings.Join(all, " ")
	// "sum *file" from openssl -r, "sum  file" from sha256sum.
	fmt.Fprintf(&s, "sums=$(set -- %s; %s)\n", list, HashArgs)
	for _, o := range send {
		r := res[o.i]
		t, d := Quote(o.tmp), Quote(r.Dst)
		// -T: never move into a directory that happens to be called dst.
		fmt.Fprintf(&s, "case \"$sums\" in *%[1]s' *'%[2]s*|*%[1]s'  '%[2]s*) mv -f -T -- %[2]s %[3]s || { rm -f -- %[2]s; rc=1; } ;;\n", r.Digest, t, d)
		fmt.Fprintf(&s, "  *) rm -f -- %[2]s; echo %[3]s': sha256 on the host is not the expected %[1]s' >&2; rc=65 ;;\nesac\n", r.Digest, t, d)
	}
	return s.String()
}

// writeTar writes the files as one tar stream, each under its temporary path (relative to /), counting the bytes
// for the executor and reporting progress over the whole batch.
func writeTar(w io.Writer, send []outgoing, res []UploadResult, uploaded *atomic.Int64, total int64, progress func(int64, int64)) error {
	tw := tar.NewWriter(w)
	var done int64
	for _, o := range send {
		src, err := o.open()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(o.tmp, "/"), Size: o.size, Mode: 0o600, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return err
		}
		base := done
		var report func(int64, int64)
		if progress != nil {
			report = func(sent, _ int64) { progress(base+sent, total) }
		}
		cr := &countingReader{r: src, total: o.size, progress: report, counter: uploaded}
		n, err := io.Copy(tw, cr)
		src.Close()
		if err == nil && n != o.size {
			err = fmt.Errorf("read %d bytes, the source has %d (did it change?)", n, o.size)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", res[o.i].Dst, err)
		}
		cr.report(true)
		done += n
	}
	return tw.Close()
}

// probeAll looks at every destination in one command: for each that exists with the expected size, its mode and
// sha256 (keyed by index in res).
func (e *Executor) probeAll(ctx context.Context, res []UploadResult) (map[int]existing, error) {
	var b strings.Builder
	b.WriteString("set --\n")
	index := map[string]int{}
	for i, r := range res {
		q := Quote(r.Dst)
		fmt.Fprintf(&b, "if [ -f %s ] && [ \"$(stat -c %%s -- %s)\" = %d ]; then set -- \"$@\" %s; fi\n", q, q, r.Size, q)
		index[r.Dst] = i
	}
	b.WriteString("if [ $# -gt 0 ]; then stat -c 'mode %a %n' -- \"$@\"; fi\n" + HashArgs + "\n")
	out, err := e.Run(ctx, Cmd{Command: "sh -s", Stdin: strings.NewReader(b.String())})
	if err != nil {
		return nil, fmt.Errorf("check existing files: %w", err)
	}
	modes := map[string]fs.FileMode{}
	sums := map[string]string{}
	for _, line := range strings.Split(out.Stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "mode "); ok {
			m, p, _ := strings.Cut(rest, " ")
			if v, err := strconv.ParseUint(m, 8, 32); err == nil {
				modes[p] = fs.FileMode(v)
			}
		} else if sum, p, ok := ParseHashLine(line); ok {
			sums[p] = sum
		}
	}
	have := map[int]existing{}
	for p, sum := range sums {
		if i, ok := index[p]; ok {
			have[i] = existing{digest: sum, mode: modes[p]}
		}
	}
	return have, nil
}
