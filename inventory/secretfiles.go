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
	w := secretWalker{holds: map[reflect.Type]bool{}, fields: fieldCache{}}
	w.each(reflect.ValueOf(inv).Elem(), "", func(field string, ref SecretRef) {
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
			if b := h.SSH.Bastion; b != nil {
				key(fmt.Sprintf("hosts[%d].ssh.bastion.identityFile", i), b.IdentityFile)
			}
		}
	}
	return out
}

// secretWalker finds SecretRef fields, looking only into types that can hold one.
type secretWalker struct {
	holds  map[reflect.Type]bool // memo of holdsSecret
	fields fieldCache
}

// holdsSecret reports whether a value of type t can contain a SecretRef.
func (w secretWalker) holdsSecret(t reflect.Type) bool {
	if h, ok := w.holds[t]; ok {
		return h
	}
	w.holds[t] = false // the inventory's types are not recursive; this only ends the walk if one ever were
	h := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice: // no map of the inventory holds secrets, and each does not walk maps
		h = w.holdsSecret(t.Elem())
	case reflect.String:
		h = t == secretRefType
	case reflect.Struct:
		for _, f := range w.fields.of(t) {
			if w.holdsSecret(t.Field(f.index).Type) {
				h = true
				break
			}
		}
	}
	w.holds[t] = h
	return h
}

// each calls fn for every SecretRef under v, with its field path.
func (w secretWalker) each(v reflect.Value, path string, fn func(string, SecretRef)) {
	if !w.holdsSecret(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		fn(path, v.Interface().(SecretRef))
	case reflect.Pointer:
		if !v.IsNil() {
			w.each(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			w.each(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		for _, f := range w.fields.of(v.Type()) {
			if fv := v.Field(f.index); w.holdsSecret(fv.Type()) {
				w.each(fv, joinPath(path, f.name), fn)
			}
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
