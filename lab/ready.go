package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// readyTimeout bounds how long one host may take to boot until sshd answers.
const readyTimeout = 2 * time.Minute

// sshBanner dials addr:22 and returns the server's identification line.
func sshBanner(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr, "22"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	// Say who we are before hanging up, so sshd logs a closed connection rather than a protocol error.
	conn.Write([]byte("SSH-2.0-berth-lab-probe\r\n"))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read SSH banner from %s: %w", addr, err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return "", fmt.Errorf("%s:22 answers %q, not SSH", addr, strings.TrimSpace(line))
	}
	return strings.TrimSpace(line), nil
}

// waitReady waits until the host's systemd finished booting and its sshd answers on the management address, then
// returns its host keys. A boot that ends degraded is reported with its failed units.
func (l *Lab) waitReady(ctx context.Context, h *Host) (hostKeys, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var lastErr error
	for {
		if _, err := sshBanner(ctx, h.Address(), 2*time.Second); err == nil {
			break
		} else {
			lastErr = err
		}
		if running, err := l.running(ctx, h); err == nil && !running {
			return hostKeys{}, fmt.Errorf("host %s stopped while booting: %s", h.Name, containerLogs(ctx, l.docker, h.Container))
		}
		select {
		case <-ctx.Done():
			return hostKeys{}, fmt.Errorf("host %s: sshd does not answer on %s:22 after %s (%v); see `docker logs %s`",
				h.Name, h.Address(), readyTimeout, lastErr, h.Container)
		case <-time.After(150 * time.Millisecond):
		}
	}
	res, err := dockerExec(ctx, l.docker, h.Container, []string{"systemctl", "is-system-running", "--wait"})
	if err != nil {
		return hostKeys{}, err
	}
	if st := strings.TrimSpace(res.Stdout); st != "running" {
		failed, _ := dockerExec(ctx, l.docker, h.Container, []string{"systemctl", "--failed", "--no-legend", "--plain"})
		l.log.Warn("lab host booted with failed units", "host", h.Name, "state", st, "failed", strings.TrimSpace(failed.Stdout))
	}
	out, err := mustExec(ctx, l.docker, h.Container, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub")
	if err != nil {
		return hostKeys{}, fmt.Errorf("read host keys of %s: %w", h.Name, err)
	}
	keys, err := parseHostKeys(out)
	if err != nil {
		return hostKeys{}, fmt.Errorf("read host keys of %s: %w", h.Name, err)
	}
	return hostKeys{Address: h.Address(), Keys: keys}, nil
}

// running reports whether the host's container is running.
func (l *Lab) running(ctx context.Context, h *Host) (bool, error) {
	insp, err := l.docker.ContainerInspect(ctx, h.Container)
	if err != nil {
		return false, err
	}
	return insp.State != nil && insp.State.Running, nil
}
