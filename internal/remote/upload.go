package remote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// UploadResult says what writing one file did.
type UploadResult struct {
	Host     string        `json:"host"`
	Dst      string        `json:"dst"`
	Digest   string        `json:"sha256"`
	Size     int64         `json:"size"`
	Sent     int64         `json:"sent"`    // bytes moved over the wire: 0 when skipped
	Skipped  bool          `json:"skipped"` // the destination already had this content
	Duration time.Duration `json:"duration"`
}

// WriteFile writes data to dst on the host, the way PutFiles writes each file of a batch: left alone when dst
// already has the content, otherwise sent under a temporary name, checked and renamed into place.
func (e *Executor) WriteFile(ctx context.Context, dst string, data []byte, mode fs.FileMode) (UploadResult, error) {
	res, err := e.PutFiles(ctx, []File{{Data: data, Dst: dst, Mode: mode}}, nil)
	if len(res) == 1 {
		return res[0], err
	}
	return UploadResult{Host: e.Host(), Dst: dst}, err
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

// existing describes a destination before a write: its sha256 (only when its size matched) and its mode.
type existing struct {
	digest string
	mode   fs.FileMode
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

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
