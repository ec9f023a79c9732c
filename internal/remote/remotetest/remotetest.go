// Package remotetest is an in-memory remote.Host for tests of pure logic: plans, scale benchmarks, error paths.
// Commands are answered by a function the test gives; files written land in memory. Nothing here is evidence that
// anything works on a real host: that is what the lab tests are for.
package remotetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/berthsh/berth/internal/remote"
)

// Respond answers one command on a host: its stdout, or an error (a *remote.RunError to look like a failed command).
type Respond func(host string, c remote.Cmd) (string, error)

// Host is an in-memory host.
type Host struct {
	name    string
	sudo    bool
	respond Respond

	commands atomic.Int64
	mu       sync.Mutex
	files    map[string][]byte
}

var _ remote.Host = (*Host)(nil)

// New returns an in-memory host named name whose commands respond answers.
func New(name string, sudo bool, respond Respond) *Host {
	return &Host{name: name, sudo: sudo, respond: respond, files: map[string][]byte{}}
}

// Open returns a remote.PoolOptions.Open that makes in-memory hosts answered by respond.
func Open(respond Respond) func(remote.Target) (remote.Host, error) {
	return func(t remote.Target) (remote.Host, error) { return New(t.Host, t.Sudo, respond), nil }
}

// Host returns the host's name.
func (h *Host) Host() string { return h.name }

// Sudo reports whether commands would run through sudo.
func (h *Host) Sudo() bool { return h.sudo }

// Connect always succeeds.
func (h *Host) Connect(context.Context) error { return nil }

// Commands returns how many commands ran.
func (h *Host) Commands() int64 { return h.commands.Load() }

// Run answers the command.
func (h *Host) Run(ctx context.Context, c remote.Cmd) (remote.Result, error) {
	if err := ctx.Err(); err != nil {
		return remote.Result{ExitCode: -1}, &remote.RunError{Host: h.name, Cmd: c.Command, ExitCode: -1, Err: err}
	}
	h.commands.Add(1)
	out, err := h.respond(h.name, c)
	if err != nil {
		var re *remote.RunError
		if errors.As(err, &re) {
			return remote.Result{Stdout: out, ExitCode: re.ExitCode}, err
		}
		return remote.Result{Stdout: out, ExitCode: 1}, &remote.RunError{Host: h.name, Cmd: c.Command, ExitCode: 1, Output: err.Error()}
	}
	return remote.Result{Stdout: out}, nil
}

// Exec answers the command and returns its stdout without the trailing newline.
func (h *Host) Exec(ctx context.Context, command string) (string, error) {
	res, err := h.Run(ctx, remote.Cmd{Command: command})
	for len(res.Stdout) > 0 && res.Stdout[len(res.Stdout)-1] == '\n' {
		res.Stdout = res.Stdout[:len(res.Stdout)-1]
	}
	return res.Stdout, err
}

// ReadFile returns a file written earlier, or else what the host answers to cat, as the real executor reads.
func (h *Host) ReadFile(ctx context.Context, p string) ([]byte, error) {
	h.mu.Lock()
	b, ok := h.files[p]
	h.mu.Unlock()
	if ok {
		return b, nil
	}
	res, err := h.Run(ctx, remote.Cmd{Command: "cat -- " + remote.Quote(p)})
	return []byte(res.Stdout), err
}

// WriteFile keeps data as the file dst.
func (h *Host) WriteFile(ctx context.Context, dst string, data []byte, mode fs.FileMode) (remote.UploadResult, error) {
	res, err := h.PutFiles(ctx, []remote.File{{Dst: dst, Data: data, Mode: mode}}, nil)
	if err != nil {
		return remote.UploadResult{}, err
	}
	return res[0], nil
}

// PutFiles keeps every file of the batch in memory (those from disk read from disk).
func (h *Host) PutFiles(_ context.Context, files []remote.File, progress func(sent, total int64)) ([]remote.UploadResult, error) {
	out := make([]remote.UploadResult, len(files))
	var total int64
	for i, f := range files {
		data := f.Data
		if f.Src != "" {
			b, err := os.ReadFile(f.Src)
			if err != nil {
				return out, fmt.Errorf("upload %s to %s: %w", f.Dst, h.name, err)
			}
			data = b
		}
		sum := sha256.Sum256(data)
		h.mu.Lock()
		h.files[f.Dst] = data
		h.mu.Unlock()
		out[i] = remote.UploadResult{Host: h.name, Dst: f.Dst, Digest: hex.EncodeToString(sum[:]), Size: int64(len(data)), Sent: int64(len(data))}
		total += int64(len(data))
	}
	if progress != nil {
		progress(total, total)
	}
	return out, nil
}

// File returns a file written to the host, and whether it was.
func (h *Host) File(p string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.files[p]
	return b, ok
}

// DialContext fails: an in-memory host has no network.
func (h *Host) DialContext(_ context.Context, _, address string) (net.Conn, error) {
	return nil, fmt.Errorf("dial %s through %s: an in-memory host has no network", address, h.name)
}
