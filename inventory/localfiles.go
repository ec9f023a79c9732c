package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strings"

	"github.com/berthsh/berth/internal/localfile"
)

// LocalFiles checks that every file the inventory names on this machine exists and can be read: SSH identity
// files (the inventory's, each host's, each bastion's), ssh.knownHosts, file: secrets and openstack.caCertFile.
// Each problem is an error at the field that names the file. Files are opened, never read: nothing of a secret is
// looked at, and anything but a regular file is refused without being opened.
func (inv *Inventory) LocalFiles() Problems {
	type named struct {
		field, path, kind string
		limit             int64
	}
	var files []named
	for _, sf := range inv.secretFiles() {
		kind := "secret"
		if strings.Contains(sf.field, "identityFile") {
			kind = "key"
		}
		files = append(files, named{sf.field, sf.path, kind, localfile.SecretLimit})
	}
	if p := inv.SSH.KnownHosts; p != "" {
		files = append(files, named{"ssh.knownHosts", inv.ResolvePath(p), "known_hosts", localfile.KnownHostsLimit})
	}
	if o := inv.OpenStack; o != nil && o.CACertFile != "" {
		files = append(files, named{"openstack.caCertFile", inv.ResolvePath(o.CACertFile), "CA bundle", localfile.KnownHostsLimit})
	}
	var out Problems
	for _, f := range files {
		msg, fix := checkLocalFile(f.path, f.kind, f.limit, inv.Dir())
		if msg == "" {
			continue
		}
		line, col := inv.position(f.field)
		out = append(out, Problem{File: inv.File(), Line: line, Column: col, Path: f.field, Message: msg, Fix: fix})
	}
	return out
}

// checkLocalFile opens path and says what is wrong with it as a file of kind, or "" when it can be read. dir is
// where the inventory's relative paths start.
func checkLocalFile(path, kind string, limit int64, dir string) (msg, fix string) {
	// Stat first: opening a device can do something (a tape rewinds).
	st, err := os.Stat(path)
	var f *os.File
	if err == nil && !st.Mode().IsRegular() {
		err = &localfile.NotRegularError{Path: path, Mode: st.Mode()}
	} else if err == nil {
		f, st, err = localfile.Open(path)
	}
	if err == nil {
		f.Close()
		if st.Size() > limit {
			return (&localfile.TooLargeError{Path: path, Limit: limit}).Error(), "name the right file"
		}
		return "", ""
	}
	var notRegular *localfile.NotRegularError
	switch {
	case errors.As(err, &notRegular):
		return fmt.Sprintf("%s %s is %s, not a regular file", kind, path, localfile.Describe(notRegular.Mode)), "name a regular file"
	case errors.Is(err, fs.ErrNotExist):
		create := map[string]string{
			"key":         "create the key (ssh-keygen -t ed25519 -f " + path + ")",
			"known_hosts": "write the hosts' keys into it (ssh-keyscan output checked against each host's console)",
			"secret":      "create the file with the secret alone in it (chmod 600)",
			"CA bundle":   "copy the CA certificates (PEM) there",
		}[kind]
		return fmt.Sprintf("%s %s does not exist", kind, path),
			create + ", or correct the path (a relative path starts at the inventory's directory, " + dir + ")"
	case errors.Is(err, fs.ErrPermission):
		who := "the user running berth"
		if u, uerr := user.Current(); uerr == nil {
			who = u.Username
		}
		return fmt.Sprintf("%s %s cannot be read: permission denied", kind, path),
			"let " + who + " read it (the file and every directory above it), or run berth as a user who can"
	}
	return fmt.Sprintf("%s %s cannot be opened: %v", kind, path, err), "name a file berth can read"
}
