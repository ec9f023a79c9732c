package inventory

import (
	"fmt"
	"os"
	"reflect"

	"github.com/berthsh/berth/internal/localfile"
)

// secretFile is a file on this machine that holds a secret, and the field that names it.
type secretFile struct {
	field string
	path  string
}

// secretFiles lists the files the inventory names that hold secrets: file: references and SSH identity files.
func (inv *Inventory) secretFiles() []secretFile {
	var out []secretFile
	eachSecretRef(reflect.ValueOf(inv).Elem(), "", func(field string, ref SecretRef) {
		if ref.Kind() == "file" && ref.Target() != "" {
			out = append(out, secretFile{field, ref.file(inv.Dir())})
		}
	})
	key := func(field, p string) {
		if p != "" {
			out = append(out, secretFile{field, inv.ResolvePath(p)})
		}
	}
	for i, p := range inv.SSH.IdentityFiles {
		key(fmt.Sprintf("ssh.identityFiles[%d]", i), p)
	}
	if b := inv.SSH.Bastion; b != nil {
		key("ssh.bastion.identityFile", b.IdentityFile)
	}
	for i, h := range inv.Hosts {
		if h.SSH != nil {
			for j, p := range h.SSH.IdentityFiles {
				key(fmt.Sprintf("hosts[%d].ssh.identityFiles[%d]", i, j), p)
			}
		}
	}
	return out
}

// eachSecretRef calls fn for every SecretRef field under v, with its field path.
func eachSecretRef(v reflect.Value, path string, fn func(string, SecretRef)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			eachSecretRef(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			eachSecretRef(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		for _, f := range yamlFields(v.Type()) {
			fv := v.Field(f.index)
			if fv.Type() == secretRefType {
				fn(joinPath(path, f.name), fv.Interface().(SecretRef))
				continue
			}
			eachSecretRef(fv, joinPath(path, f.name), fn)
		}
	}
}

// secretFileWarnings warns about each secret file that the group or others can read. It looks only at modes
// (os.Stat, which never blocks and never reads); a file that is missing or unfit is reported when it is read.
func (inv *Inventory) secretFileWarnings() Problems {
	var out Problems
	for _, sf := range inv.secretFiles() {
		st, err := os.Stat(sf.path)
		if err != nil || !st.Mode().IsRegular() || !localfile.OthersCanRead(st) {
			continue
		}
		line, col := inv.position(sf.field)
		out = append(out, Problem{File: inv.File(), Line: line, Column: col, Path: sf.field, Severity: SeverityWarning,
			Message: fmt.Sprintf("%s is readable by group or others (mode %04o); it holds a secret", sf.path, st.Mode().Perm()),
			Fix:     "chmod 600 " + sf.path})
	}
	return out
}
