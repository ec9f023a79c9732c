package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// How a sudo password reaches sudo: never on a command line, in a log or in an error, but as the first line of
// the command's standard input, which `sudo -S -p ''` reads (one byte at a time, up to the newline) before it runs
// the command. Whatever the command reads from its input follows that line, so a wrapped command first reads up to
// a line holding a random marker of its own (the nonce), which berth sends right after the password: sudo took the
// password line, or did not need it (NOPASSWD, cached credentials) and left it for the wrapper to skip; either way
// the command's input starts exactly where the caller's Stdin starts, and uploads stream through unchanged.
//
// sudo asks up to three times and reads each try from the same input, so a wrong password would be tried against
// the nonce and the caller's data, and count as several failures where accounts lock after a few. So before the
// first command the password is tried once on its own (sudoReady); once sudo has refused it, no command offers it
// again.

// ErrSudoRefused means sudo refused the password berth was given.
var ErrSudoRefused = errors.New("sudo refused the password")

// sudoPassword returns the password sudo asks for, reading it the first time; "" when the target has none.
func (e *Executor) sudoPassword() (string, error) {
	e.sudoMu.Lock()
	defer e.sudoMu.Unlock()
	if e.sudoPass != "" || e.cfg.Target.SudoPassword == nil {
		return e.sudoPass, nil
	}
	pw, err := e.cfg.Target.SudoPassword()
	if err != nil {
		return "", fmt.Errorf("read the sudo password for %s: %w", e.Host(), err)
	}
	if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
		return "", fmt.Errorf("the sudo password for %s is empty or holds a line break or NUL, which sudo cannot read from one line", e.Host())
	}
	e.sudoPass = pw
	return pw, nil
}

// sudoReady tries the password once on its own before the first command that needs it: `sudo -k` makes sudo ask
// whatever it cached, and the input ends after the password, so a wrong one costs one failed try and the error
// says so. A refusal is remembered; any other failure (a lost connection) is tried again by the next command.
func (e *Executor) sudoReady(ctx context.Context, client *ssh.Client, pw string) error {
	e.sudoMu.Lock()
	defer e.sudoMu.Unlock()
	if e.sudoOK {
		return nil
	}
	if e.sudoErr != nil {
		return e.sudoErr
	}
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("open ssh session: %w", err)
	}
	defer sess.Close()
	stderr := &limitBuffer{n: DefaultTailLimit}
	sess.Stdin = strings.NewReader(pw + "\n")
	sess.Stderr = stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run("sudo -S -p '' -k -- true") }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(time.Minute):
		return fmt.Errorf("sudo on %s did not answer within a minute", e.Host())
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		e.sudoOK = true
		return nil
	case !errors.As(err, &exit):
		return fmt.Errorf("try the sudo password: %w", err)
	}
	out := redact(stderr.buf.String(), []string{pw})
	if cause := sudoError(e.Host(), e.host.creds.user, out, exit.ExitStatus(), true); cause != nil {
		if errors.Is(cause, ErrSudoRefused) {
			e.sudoErr = cause
		}
		return cause
	}
	return fmt.Errorf("sudo -k true on %s: exit status %d: %s", e.Host(), exit.ExitStatus(), strings.TrimSpace(out))
}

// sudoInput is the standard input of a command run through sudo with a password: the password line, the nonce
// line, then the caller's input.
func sudoInput(pw, nonce string, stdin io.Reader) io.Reader {
	prefix := strings.NewReader(pw + "\n" + nonce + "\n")
	if stdin == nil {
		return prefix
	}
	return io.MultiReader(prefix, stdin)
}

// newNonce returns the marker line that ends what stands before a command's own input.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "berth-input-" + hex.EncodeToString(b)
}
