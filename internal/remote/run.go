package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Cmd is one remote command.
type Cmd struct {
	Command string            // shell command line, run by sh
	Stdin   io.Reader         // input; nil gives the command an empty stdin (it never waits for a terminal)
	Stdout  io.Writer         // optional: stream stdout here instead of capturing it in Result.Stdout
	Stderr  io.Writer         // optional: stream stderr here as well
	Env     map[string]string // exported before Command runs; values never appear in logs or errors
	NoSudo  bool              // run as the login user even on hosts that use sudo
	Secrets []string          // more strings to hide from logs and errors (tokens in the command line)
}

// Result is what a finished command returned.
type Result struct {
	Stdout   string // captured stdout (empty when Cmd.Stdout streams it)
	Stderr   string // the last DefaultTailLimit bytes of stderr
	ExitCode int
	Duration time.Duration
}

// ErrSudoPassword means sudo wanted a password and berth was given none.
var ErrSudoPassword = errors.New("sudo asks for a password")

// ErrOutputLimit means a command printed more than the Executor captures; stream it with Cmd.Stdout instead.
var ErrOutputLimit = errors.New("output exceeds the capture limit")

// RunError is a remote command that failed: it exited non-zero, or could not run or finish.
type RunError struct {
	Host     string // inventory name of the host
	Cmd      string // the command, secrets redacted
	ExitCode int    // exit status; -1 when the command did not exit by itself
	Output   string // tail of stdout and stderr, secrets redacted
	Err      error  // cause: ErrSudoPassword, a context error, a connection error, or nil for a plain non-zero exit
}

func (e *RunError) Error() string {
	var b strings.Builder
	cmd := e.Cmd
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	fmt.Fprintf(&b, "run %q on %s: ", cmd, e.Host)
	switch {
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	}
	if out := strings.TrimRight(e.Output, "\n"); out != "" {
		b.WriteString("\n  | ")
		b.WriteString(strings.ReplaceAll(out, "\n", "\n  | "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *RunError) Unwrap() error { return e.Err }

// Exec runs command (through sudo where the host uses it) and returns its stdout without the trailing newline. A
// non-zero exit is a *RunError carrying the command and the tail of its output.
func (e *Executor) Exec(ctx context.Context, command string) (string, error) {
	res, err := e.Run(ctx, Cmd{Command: command})
	return strings.TrimRight(res.Stdout, "\n"), err
}

// Run runs a command. Cancelling ctx kills the command's whole process group on the host.
func (e *Executor) Run(ctx context.Context, c Cmd) (Result, error) {
	start := time.Now()
	secrets := c.secrets()
	display := redact(c.Command, secrets)
	fail := func(code int, out string, err error) (Result, error) {
		return Result{ExitCode: code, Duration: time.Since(start)},
			&RunError{Host: e.Host(), Cmd: display, ExitCode: code, Output: redact(out, secrets), Err: err}
	}
	client, err := e.conn(ctx)
	if err != nil {
		return fail(-1, "", err)
	}
	sess, err := client.NewSession()
	if err != nil {
		if why := e.lostReason(); why != "" {
			return fail(-1, "", fmt.Errorf("connection lost (%s); the next command reconnects", why))
		}
		return fail(-1, "", fmt.Errorf("open ssh session: %w", err))
	}
	defer sess.Close()
	e.commands.Add(1)

	tail := newTail(e.cfg.TailLimit)
	stdout := &limitBuffer{n: e.cfg.OutputLimit}
	stderr := newTail(e.cfg.TailLimit)
	if c.Stdout != nil {
		sess.Stdout = io.MultiWriter(c.Stdout, tail)
	} else {
		sess.Stdout = io.MultiWriter(stdout, tail)
	}
	errWriters := []io.Writer{stderr, tail}
	if c.Stderr != nil {
		errWriters = append(errWriters, c.Stderr)
	}
	filter := newMarkerFilter(io.MultiWriter(errWriters...))
	sess.Stderr = filter
	sess.Stdin = c.Stdin
	if sess.Stdin == nil {
		sess.Stdin = bytes.NewReader(nil)
	}
	sudo := e.Sudo() && !c.NoSudo
	var pw, nonce string
	if sudo {
		if pw, err = e.sudoPassword(); err != nil {
			return fail(-1, "", err)
		}
		if pw != "" {
			if err := e.sudoReady(ctx, client, pw); err != nil {
				return fail(-1, "", err)
			}
			nonce = newNonce()
			sess.Stdin = sudoInput(pw, nonce, c.Stdin)
			secrets = append(secrets, pw)
		}
	}
	e.log.Debug("run", "cmd", display, "sudo", sudo)
	if err := sess.Start(wrapCommand(c, sudo, nonce)); err != nil {
		return fail(-1, "", fmt.Errorf("start: %w", err))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	select {
	case err = <-done:
	case <-ctx.Done():
		e.killGroup(client, filter, sudo, pw)
		_ = sess.Signal(ssh.SIGKILL) // in case the group was unknown; OpenSSH passes it to the session's process
		sess.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return fail(-1, tail.String(), fmt.Errorf("cancelled, remote process group killed: %w", context.Cause(ctx)))
	}
	filter.flush()
	res := Result{Stdout: stdout.buf.String(), Stderr: redact(stderr.String(), secrets), Duration: time.Since(start)}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
	default:
		res.ExitCode = -1
		if why := e.lostReason(); why != "" {
			return fail(-1, tail.String(), fmt.Errorf("connection lost before the command finished (%s)", why))
		}
		return fail(-1, tail.String(), fmt.Errorf("connection lost before the command finished: %w", err))
	}
	e.log.Debug("done", "cmd", display, "exit", res.ExitCode, "took", res.Duration.Round(time.Millisecond))
	if res.ExitCode != 0 {
		var cause error
		if sudo && !filter.started() {
			cause = sudoError(e.Host(), e.host.creds.user, stderr.String(), res.ExitCode, pw != "")
		}
		r, err := fail(res.ExitCode, tail.String(), cause)
		r.Stdout, r.Stderr = res.Stdout, res.Stderr
		return r, err
	}
	if stdout.overflow {
		return fail(0, "", fmt.Errorf("%w (%d bytes): stream it with Cmd.Stdout", ErrOutputLimit, e.cfg.OutputLimit))
	}
	return res, nil
}

func (c Cmd) secrets() []string {
	var out []string
	for _, v := range c.Env {
		if len(v) >= 3 {
			out = append(out, v)
		}
	}
	for _, s := range c.Secrets {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// wrapCommand makes the command its own session and process group (setsid) and has it print that group's id first,
// so cancellation can kill everything it started. sudo -n never prompts; with a nonce, sudo -S reads the password
// from the input, and the command's input starts after the nonce's line (see sudo.go).
func wrapCommand(c Cmd, sudo bool, nonce string) string {
	var script strings.Builder
	fmt.Fprintf(&script, "printf '%%s %%d\\n' %s \"$$\" >&2; ", pgidMarker)
	if nonce != "" {
		// read takes one byte at a time from a pipe, so nothing after the nonce's line is consumed here.
		fmt.Fprintf(&script, "while IFS= read -r berth_line; do [ \"$berth_line\" = %s ] && break; done; unset berth_line; ", nonce)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		fmt.Fprintf(&script, "export %s=%s; ", k, Quote(c.Env[k]))
	}
	script.WriteString(c.Command)
	cmd := "setsid -w sh -c " + Quote(script.String())
	switch {
	case sudo && nonce != "":
		cmd = "sudo -S -p '' -- " + cmd
	case sudo:
		cmd = "sudo -n -- " + cmd
	}
	return cmd
}

// killGroup ends the command's process group on the host: TERM, then KILL if it is still there after 2 s.
func (e *Executor) killGroup(client *ssh.Client, filter *markerFilter, sudo bool, pw string) {
	var pgid int
	select {
	case pgid = <-filter.pgid:
	case <-time.After(time.Second):
	}
	if pgid <= 1 {
		e.log.Debug("cancelled before the command reported its process group; closing the session")
		return
	}
	g := fmt.Sprint(pgid)
	script := "kill -TERM -" + g + " 2>/dev/null || exit 0; i=0; while [ $i -lt 20 ]; do kill -0 -" + g +
		" 2>/dev/null || exit 0; sleep 0.1; i=$((i+1)); done; kill -KILL -" + g + " 2>/dev/null; exit 0"
	cmd := "sh -c " + Quote(script)
	switch {
	case sudo && pw != "":
		cmd = "sudo -S -p '' -- " + cmd // the script reads no input: a password line sudo did not need stays unread
	case sudo:
		cmd = "sudo -n -- " + cmd
	}
	sess, err := client.NewSession()
	if err != nil {
		e.log.Warn("could not kill cancelled command", "pgid", pgid, "err", err)
		return
	}
	defer sess.Close()
	if pw != "" {
		sess.Stdin = strings.NewReader(pw + "\n")
	}
	ch := make(chan error, 1)
	go func() { ch <- sess.Run(cmd) }()
	select {
	case err = <-ch:
	case <-time.After(10 * time.Second):
		err = errors.New("timed out")
	}
	if err != nil {
		e.log.Warn("could not kill cancelled command", "pgid", pgid, "err", err)
		return
	}
	e.log.Debug("killed cancelled command", "pgid", pgid)
}

// sudoError explains why sudo refused to run a command; withPassword says whether berth gave it one.
func sudoError(host, user, stderr string, code int, withPassword bool) error {
	switch {
	case withPassword && (strings.Contains(stderr, "incorrect password") || strings.Contains(stderr, "try again") ||
		strings.Contains(stderr, "no password was provided") || strings.Contains(stderr, "Authentication failure")):
		return fmt.Errorf("%w of user %s on %s: check the password ssh.sudoPasswordFrom names (berth tried it once and does not try it again)",
			ErrSudoRefused, user, host)
	case strings.Contains(stderr, "password is required"), strings.Contains(stderr, "terminal is required"):
		return fmt.Errorf("%w on %s for user %s: give berth the password by reference (ssh.sudoPasswordFrom: env:VAR or file:PATH), allow %s passwordless sudo (for example /etc/sudoers.d/berth: `%s ALL=(ALL) NOPASSWD: ALL`), or log in as root",
			ErrSudoPassword, host, user, user, user)
	case strings.Contains(stderr, "not in the sudoers"), strings.Contains(stderr, "not allowed to execute"):
		return fmt.Errorf("user %s may not use sudo on %s: add it to sudoers or log in as root", user, host)
	case code == 127:
		return fmt.Errorf("sudo or setsid is not installed on %s: install sudo, or log in as root", host)
	}
	return nil
}
