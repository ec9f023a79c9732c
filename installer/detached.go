package installer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berthsh/berth/internal/remote"
)

// kubeadmUnit is the transient systemd unit kubeadm init and join run in.
const kubeadmUnit = "berth-kubeadm"

// runDetached runs command on the host as a transient systemd unit and waits for it. Unlike a command of the SSH
// session, the unit finishes on its own if berth is killed or the connection drops: kubeadm init and join are
// not safe to interrupt (a control plane can be left half-added to etcd), so they always run to their end, and the
// next run of berth finds a finished join rather than a broken one. Output goes to the host's journal; on failure
// the error carries its tail.
func runDetached(ctx context.Context, e *remote.Executor, description, command string, secrets []string) error {
	if err := waitDetached(ctx, e); err != nil {
		return err
	}
	script := fmt.Sprintf(`systemctl reset-failed %[1]s >/dev/null 2>&1
cursor=$(journalctl -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p')
systemd-run --unit %[1]s --description %[2]s --collect --wait --quiet --property=TimeoutStartSec=20min -- /bin/sh -c %[3]s
rc=$?
if [ $rc -ne 0 ]; then journalctl --no-pager -o cat -n 60 --after-cursor "$cursor" _SYSTEMD_UNIT=%[1]s.service >&2; fi
exit $rc`, kubeadmUnit, remote.Quote("berth: "+description), remote.Quote(command))
	_, err := e.Run(ctx, remote.Cmd{Command: script, Secrets: secrets})
	var re *remote.RunError
	if errors.As(err, &re) && re.Err == nil {
		// Name the step, not the wrapper script; the output is kubeadm's own.
		return &remote.RunError{Host: re.Host, Cmd: description + " (systemd unit " + kubeadmUnit + ")", ExitCode: re.ExitCode, Output: re.Output}
	}
	return err
}

// waitDetached waits while an earlier run's kubeadm unit is still running on the host (berth was killed during
// it), so that two kubeadm never run at once.
func waitDetached(ctx context.Context, e *remote.Executor) error {
	out, err := e.Exec(ctx, fmt.Sprintf(`for i in $(seq 1 1200); do systemctl is-active --quiet %s || { echo done; exit 0; }; sleep 1; done; echo busy`, kubeadmUnit))
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "done" {
		return fmt.Errorf("kubeadm from an earlier run is still running on %s after 20 minutes (systemctl status %s)", e.Host(), kubeadmUnit)
	}
	return nil
}
