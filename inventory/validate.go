package inventory

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Validate checks the inventory and returns every problem found, sorted by position. It expects Default to have
// run. Errors and warnings are both returned; Problems.Errors tells whether the inventory is usable.
func (inv *Inventory) Validate() Problems {
	v := &validator{inv: inv}
	v.header()
	v.walk(reflect.ValueOf(inv).Elem(), "")
	// The rules between fields judge hosts by their roles. A misspelt role is reported once, above; from here on the
	// rules see the role it was meant to be, or none, so that it causes no second error.
	v.inv, v.unsure = inv.rolesAsMeant()
	v.planes()
	v.firewall()
	v.hosts()
	v.ssh()
	v.controlPlane()
	v.kubernetes()
	v.dns()
	v.registries()
	v.storage()
	v.tenants()
	v.problems.Sort()
	return v.problems
}

type validator struct {
	inv      *Inventory
	problems Problems
	unsure   map[string]bool // hosts with a role that is no role and resembles none: their role checks are skipped
}

// rolesAsMeant returns the inventory with every misspelt role replaced by the role it resembles (the one the
// error suggests), and the names of the hosts with a role that resembles none, which is left out. The inventory
// itself is returned when every role is known.
func (inv *Inventory) rolesAsMeant() (*Inventory, map[string]bool) {
	known := make([]string, len(AllRoles))
	for i, r := range AllRoles {
		known[i] = string(r)
	}
	var out *Inventory
	unsure := map[string]bool{}
	for i, h := range inv.Hosts {
		var roles []Role
		changed := false
		for _, r := range h.Roles {
			switch {
			case slices.Contains(AllRoles, r):
				roles = append(roles, r)
			case suggest(string(r), known) != "":
				roles, changed = append(roles, Role(suggest(string(r), known))), true
			default:
				changed, unsure[h.Name] = true, true
			}
		}
		if !changed {
			continue
		}
		if out == nil {
			c := *inv
			c.Hosts = slices.Clone(inv.Hosts)
			out = &c
		}
		out.Hosts[i].Roles = roles
	}
	if out == nil {
		return inv, unsure
	}
	return out, unsure
}

func (v *validator) add(sev Severity, path string, atKey bool, fix, format string, args ...any) {
	p := Problem{File: v.inv.File(), Path: path, Message: fmt.Sprintf(format, args...), Fix: fix, Severity: sev}
	if atKey {
		p.Line, p.Column = v.inv.keyPosition(path)
	} else {
		p.Line, p.Column = v.inv.position(path)
	}
	v.problems = append(v.problems, p)
}

// errorf reports an error at the value of path.
func (v *validator) errorf(path, fix, format string, args ...any) {
	v.add(SeverityError, path, false, fix, format, args...)
}

// warnf reports a warning at the value of path.
func (v *validator) warnf(path, fix, format string, args ...any) {
	v.add(SeverityWarning, path, false, fix, format, args...)
}

func (v *validator) header() {
	if v.inv.APIVersion != "" && v.inv.APIVersion != APIVersion {
		v.errorf("apiVersion", "write apiVersion: "+APIVersion, "unsupported apiVersion %q", v.inv.APIVersion)
	}
	if v.inv.Kind != "" && v.inv.Kind != Kind {
		v.errorf("kind", "write kind: "+Kind, "kind must be %s, found %q", Kind, v.inv.Kind)
	}
	if n := v.inv.Metadata.Name; n != "" && !dnsLabel(n, 40) {
		v.errorf("metadata.name", "use lower case letters, digits and '-', starting with a letter, at most 40 characters",
			"%q is not a valid cluster name", n)
	}
}

var secretRefType = reflect.TypeFor[SecretRef]()

// walk applies the checks every field declares in its tags: required fields present, values inside their enum,
// secret references that really are references.
func (v *validator) walk(val reflect.Value, path string) {
	switch val.Kind() {
	case reflect.Pointer:
		if !val.IsNil() {
			v.walk(val.Elem(), path)
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.walk(val.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Struct:
		t := val.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" {
				continue
			}
			fp := joinPath(path, name)
			fv := val.Field(i)
			if f.Tag.Get("required") == "true" && fv.IsZero() {
				v.errorf(fp, fmt.Sprintf("add %s (%s)", name, strings.TrimSuffix(firstSentence(f.Tag.Get("desc")), ".")),
					"required field %q is missing", name)
				continue
			}
			if enum := f.Tag.Get("enum"); enum != "" {
				v.enum(fv, fp, strings.Split(enum, ","))
			}
			if f.Type == secretRefType {
				v.secretRef(fv.Interface().(SecretRef), fp)
			}
			v.walk(fv, fp)
		}
	}
}

func (v *validator) enum(val reflect.Value, path string, allowed []string) {
	check := func(s, p string) {
		if s == "" || slices.Contains(allowed, s) {
			return
		}
		fix := "use one of: " + strings.Join(allowed, ", ")
		if sug := suggest(s, allowed); sug != "" {
			fix = fmt.Sprintf("did you mean %q? (allowed: %s)", sug, strings.Join(allowed, ", "))
		}
		v.errorf(p, fix, "%q is not allowed here", s)
	}
	switch val.Kind() {
	case reflect.String:
		check(val.String(), path)
	case reflect.Slice:
		for i := range val.Len() {
			check(val.Index(i).String(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (v *validator) secretRef(ref SecretRef, path string) {
	if ref.IsZero() {
		return
	}
	// Never repeat the value: it may be the secret itself.
	if ref.Kind() == "" {
		v.errorf(path, "write env:VARIABLE or file:PATH naming where the secret is kept, and remove the secret from this file",
			"secrets are never written inline; this value is not an env: or file: reference")
		return
	}
	if strings.TrimSpace(ref.Target()) == "" {
		v.errorf(path, "name the variable or file after the colon, e.g. env:BERTH_SSH_PASSWORD", "empty secret reference %q", string(ref))
	}
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

var labelRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel reports whether s is an RFC 1123 label starting with a letter, at most max characters.
func dnsLabel(s string, max int) bool { return len(s) <= max && labelRe.MatchString(s) }

var dnsNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
