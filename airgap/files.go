package airgap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// File is a file an action wants on a host with exactly this content and mode.
type File struct {
	Path    string
	Content []byte
	Mode    fs.FileMode // 0 means 0644
	InPlace bool        // write through the existing inode (bind-mounted files like /etc/hosts cannot be renamed over)
}

// SHA256 returns the hex sha256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Digests returns the sha256 of each path on the host ("" for files that do not exist), in one command.
func Digests(ctx context.Context, h remote.Host, paths []string) (map[string]string, error) {
	out := map[string]string{}
	if len(paths) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteString("set --\n")
	for _, p := range paths {
		q := remote.Quote(p)
		fmt.Fprintf(&b, "if [ -f %s ]; then set -- \"$@\" %s; fi\n", q, q)
	}
	b.WriteString(remote.HashArgs)
	res, err := h.Run(ctx, remote.Cmd{Command: "sh -s", Stdin: strings.NewReader(b.String())})
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if sum, path, ok := remote.ParseHashLine(line); ok {
			out[path] = sum
		}
	}
	return out, nil
}

// EnsureFiles makes the host's files match, changing (through the session's gate) only those that differ, and
// returns the paths it changed (or, in a dry run, would change). Files replaced by rename go to the host in one
// batch once the gate has let each through; files written through their inode (InPlace) are written one by one.
func EnsureFiles(ctx context.Context, s *phase.Session, host string, h remote.Host, files []File) ([]string, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	have, err := Digests(ctx, h, paths)
	if err != nil {
		return nil, err
	}
	var changed []string
	var batch []remote.File
	for _, f := range files {
		if have[f.Path] == SHA256(f.Content) {
			continue
		}
		action := "write " + f.Path
		if have[f.Path] == "" {
			action = "create " + f.Path
		}
		err := s.Wet(host, action, func() error {
			if f.InPlace {
				_, err := h.Run(ctx, remote.Cmd{Command: "cat > " + remote.Quote(f.Path), Stdin: strings.NewReader(string(f.Content))})
				return err
			}
			batch = append(batch, remote.File{Data: f.Content, Dst: f.Path, Mode: f.Mode})
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("%s: %w", f.Path, err)
		}
		changed = append(changed, f.Path)
	}
	if len(batch) > 0 {
		if _, err := h.PutFiles(ctx, batch, nil); err != nil {
			return changed, err
		}
	}
	return changed, nil
}
