package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/berthsh/berth/internal/remote"
)

// kubeadmUnit is the transient systemd unit kubeadm init and join run in.
const kubeadmUnit = "berth-kubeadm"

// runDetached runs command on the host as a transient systemd unit and waits for it. Unlike a command of the SSH
// session, the unit finishes on its own if berth is killed or the connection drops: kubeadm init and join are
// not safe to interrupt (a control plane can be left half-added to etcd), so they always run to their end, and the
// next run of berth finds a finished join rather than a broken one. The same script first waits for the unit of an
// earlier run to end (waitKubeadmIdle), then writes config, if it has a path, for the command (0600 in a 0700
// directory, sent on the command's input, never on its command line). Output goes to the host's journal; on
// failure the error carries its tail.
func runDetached(ctx context.Context, e remote.Host, description, command string, config detachedFile, secrets []string) error {
	var write string
	var stdin io.Reader
	if config.Path != "" {
		part := config.Path + ".part"
		write = fmt.Sprintf(`umask 077
install -d -m 0700 %[1]s || exit 1
if ! { head -c %[4]d > %[3]s && [ "$(wc -c < %[3]s)" -eq %[4]d ] && mv -f %[3]s %[2]s; }; then
  rm -f %[3]s; echo "could not write %[2]s" >&2; exit 1
fi
`, remote.Quote(path.Dir(config.Path)), remote.Quote(config.Path), remote.Quote(part), len(config.Content))
		stdin = bytes.NewReader(config.Content)
	}
	script := fmt.Sprintf(`busy=$(%[4]s)
if [ -n "$busy" ]; then echo "$busy" >&2; exit 1; fi
%[5]ssystemctl reset-failed %[1]s >/dev/null 2>&1
cursor=$(journalctl -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p')
systemd-run --unit %[1]s --description %[2]s --collect --wait --quiet --property=TimeoutStartSec=20min -- /bin/sh -c %[3]s
rc=$?
if [ $rc -ne 0 ]; then journalctl --no-pager -o cat -n 60 --after-cursor "$cursor" _SYSTEMD_UNIT=%[1]s.service >&2; fi
exit $rc`, kubeadmUnit, remote.Quote("berth: "+description), remote.Quote(command), waitKubeadmIdle, write)
	_, err := e.Run(ctx, remote.Cmd{Command: script, Stdin: stdin, Secrets: secrets})
	var re *remote.RunError
	if errors.As(err, &re) && re.Err == nil {
		if err := kubeadmIdle(e.Host(), re.Output); err != nil {
			return err
		}
		// Name the step, not the wrapper script; the output is kubeadm's own.
		return &remote.RunError{Host: re.Host, Cmd: description + " (systemd unit " + kubeadmUnit + ")", ExitCode: re.ExitCode, Output: re.Output}
	}
	return err
}

// RunKubeadm runs a kubeadm command on a host as a transient systemd unit and waits for it (see runDetached): it
// finishes even if berth is killed or the connection drops, and a later run waits for it before running another.
func RunKubeadm(ctx context.Context, h remote.Host, description, command string) error {
	return runDetached(ctx, h, description, command, detachedFile{}, nil)
}

// detachedFile is a file runDetached writes for its command: kubeadm's configuration, with the join secrets.
type detachedFile struct {
	Path    string
	Content []byte
}

// waitKubeadmIdle is a shell snippet that waits while kubeadm from an earlier run (berth was killed during it)
// still runs on the host, so that two kubeadm never run at once. If it still runs after 20 minutes the snippet
// prints kubeadmBusy. Scripts start with it, so that waiting costs no command of its own.
var waitKubeadmIdle = fmt.Sprintf(`for i in $(seq 1 1200); do systemctl is-active --quiet %[1]s || break; sleep 1; done
if systemctl is-active --quiet %[1]s; then echo %[2]s; fi
`, kubeadmUnit, kubeadmBusy)

const kubeadmBusy = "kubeadm-still-running"

// kubeadmIdle returns the error for output of waitKubeadmIdle that says kubeadm still runs.
func kubeadmIdle(host, out string) error {
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == kubeadmBusy {
			return fmt.Errorf("kubeadm from an earlier run is still running on %s after 20 minutes (systemctl status %s)", host, kubeadmUnit)
		}
	}
	return nil
}

// waitDetached waits while an earlier run's kubeadm unit is still running on the host.
func waitDetached(ctx context.Context, e remote.Host) error {
	out, err := e.Exec(ctx, waitKubeadmIdle)
	if err != nil {
		return err
	}
	return kubeadmIdle(e.Host(), out)
}
