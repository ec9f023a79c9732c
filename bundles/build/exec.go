package build

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// runner runs the build machine's tools (go, apt-get, apt-cache, dpkg-deb) and turns failures into errors that
// carry the command and the end of its output.
type runner struct{ log *slog.Logger }

// run executes name with args in dir and returns its standard output.
func (r runner) run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	r.log.Debug("run", "cmd", name+" "+strings.Join(args, " "), "dir", dir, "env", env)
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("run %s %s: %w\n%s", name, strings.Join(shorten(args), " "), err, tail(stderr.String()+stdout.String(), 40))
	}
	return stdout.Bytes(), nil
}

// shorten keeps long argument lists readable in errors.
func shorten(args []string) []string {
	if len(args) <= 12 {
		return args
	}
	return append(append([]string{}, args[:10]...), fmt.Sprintf("... (%d more)", len(args)-10))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
