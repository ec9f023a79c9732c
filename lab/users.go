package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// Login is a login AddUser makes on a lab host besides the lab's own sudo user: for tests of how berth logs in and
// gets root where a bank's policy differs from the lab's (sudo that asks for a password).
type Login struct {
	Name string
	// SudoPassword is the user's password, which sudo asks for (the user gets `ALL=(ALL:ALL) ALL`, no NOPASSWD).
	// Empty: passwordless sudo, like the lab's user.
	SudoPassword string
}

var userName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// AddUser makes (or remakes) a login on a lab host that accepts the lab's key, with sudo as u says. SSH stays
// key-only: the password is sudo's, never a way to log in. The password reaches the host in a 0600 file copied
// into the container and removed by the same command, never on a command line.
func (l *Lab) AddUser(ctx context.Context, host string, u Login) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if !userName.MatchString(u.Name) || u.Name == User || u.Name == "root" {
		return fmt.Errorf("lab user %q: use lower case letters, digits and '-', not %s or root", u.Name, User)
	}
	if strings.ContainsAny(u.SudoPassword, "\n\r:\x00") {
		return fmt.Errorf("lab user %s: the password may not hold a line break, ':' or NUL", u.Name)
	}
	pub, err := os.ReadFile(filepath.Join(l.Dir, keyFile+".pub"))
	if err != nil {
		return fmt.Errorf("lab user %s: read the lab's public key: %w", u.Name, err)
	}
	rule := u.Name + " ALL=(ALL:ALL) NOPASSWD: ALL"
	pwFile := "/root/.berth-lab-user-" + u.Name
	files := []tarFile{{Path: "/root/.berth-lab-authorized-" + u.Name, Mode: 0o600, Data: pub}}
	if u.SudoPassword != "" {
		rule = u.Name + " ALL=(ALL:ALL) ALL"
		files = append(files, tarFile{Path: pwFile, Mode: 0o600, Data: []byte(u.Name + ":" + u.SudoPassword + "\n")})
	}
	files = append(files, tarFile{Path: "/etc/sudoers.d/berth-lab-" + u.Name, Mode: 0o440, Data: []byte(rule + "\n")})
	buf, err := tarOf(files)
	if err != nil {
		return err
	}
	if err := l.docker.CopyToContainer(ctx, h.Container, "/", buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("lab user %s on %s: %w", u.Name, host, err)
	}
	script := fmt.Sprintf(`set -e
trap 'rm -f %[2]s /root/.berth-lab-authorized-%[1]s' EXIT
id %[1]s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %[1]s
if [ -s %[2]s ]; then chpasswd < %[2]s; else passwd --lock %[1]s >/dev/null; fi
install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh
install -m 0600 -o %[1]s -g %[1]s /root/.berth-lab-authorized-%[1]s /home/%[1]s/.ssh/authorized_keys
visudo -c -q -f /etc/sudoers.d/berth-lab-%[1]s`, u.Name, pwFile)
	if _, err := mustExec(ctx, l.docker, h.Container, "sh", "-c", script); err != nil {
		return fmt.Errorf("lab user %s on %s: %w", u.Name, host, err)
	}
	return nil
}

// RemoveUser removes a login AddUser made, with its home and sudo rule.
func (l *Lab) RemoveUser(ctx context.Context, host, name string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if !userName.MatchString(name) || name == User {
		return fmt.Errorf("lab user %q is not one AddUser makes", name)
	}
	_, err = mustExec(ctx, l.docker, h.Container, "sh", "-c",
		fmt.Sprintf("rm -f /etc/sudoers.d/berth-lab-%[1]s; if id %[1]s >/dev/null 2>&1; then userdel -r %[1]s 2>/dev/null || userdel %[1]s; fi", name))
	return err
}
