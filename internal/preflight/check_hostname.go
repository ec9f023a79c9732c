package preflight

import (
	"fmt"
	"slices"
	"strings"
)

// checkHostnames: hosts must have distinct host names (Kubernetes node names, etcd member names); a host name that
// differs from the inventory's name is set by the install and only warned about.
func checkHostnames(in *input) []Result {
	byName := map[string][]string{}
	for name, f := range in.facts {
		byName[strings.ToLower(f.Hostname)] = append(byName[strings.ToLower(f.Hostname)], name)
	}
	var out []Result
	for name, f := range in.facts {
		dups := slices.DeleteFunc(slices.Clone(byName[strings.ToLower(f.Hostname)]), func(s string) bool { return s == name })
		slices.Sort(dups)
		switch {
		case len(dups) > 0 && !strings.EqualFold(f.Hostname, name):
			out = append(out, Result{Host: name, Check: "hostname", Status: Warn,
				Detail: fmt.Sprintf("host name %q is also used by %s", f.Hostname, strings.Join(dups, ", ")),
				Fix:    fmt.Sprintf("the install renames the host to %q; rename it yourself if other systems know it by the old name", name)})
		case len(dups) > 0:
			out = append(out, Result{Host: name, Check: "hostname", Status: Fail,
				Detail: fmt.Sprintf("host name %q is also used by %s", f.Hostname, strings.Join(dups, ", ")),
				Fix:    "give every host its own name (hostnamectl set-hostname NAME) and match hosts[].name"})
		case !strings.EqualFold(f.Hostname, name):
			out = append(out, Result{Host: name, Check: "hostname", Status: Warn,
				Detail: fmt.Sprintf("host name %q differs from the inventory name %q", f.Hostname, name),
				Fix:    "the install sets the host name to the inventory name; nothing to do unless that is unwanted"})
		default:
			out = append(out, Result{Host: name, Check: "hostname", Status: OK, Detail: f.Hostname + " (unique)"})
		}
	}
	return out
}
