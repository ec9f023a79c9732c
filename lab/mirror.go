package lab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// mirrorEnv overrides the Debian mirror debootstrap downloads from.
const mirrorEnv = "BERTH_LAB_MIRROR"

// aptSource is one "deb" entry of the machine's apt configuration.
type aptSource struct {
	URI    string
	Suites []string
}

// findMirror returns the Debian mirror this machine's apt uses for suite, read from /etc/apt/sources.list and
// /etc/apt/sources.list.d at run time, so the lab downloads from wherever the machine is allowed to.
func findMirror(root, suite string) (string, error) {
	if m := os.Getenv(mirrorEnv); m != "" {
		return m, nil
	}
	files := []string{filepath.Join(root, "etc/apt/sources.list")}
	for _, pattern := range []string{"*.list", "*.sources"} {
		more, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d", pattern))
		sort.Strings(more)
		files = append(files, more...)
	}
	var seen []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		var sources []aptSource
		if strings.HasSuffix(f, ".sources") {
			sources = parseDeb822Sources(fh)
		} else {
			sources = parseOneLineSources(fh)
		}
		fh.Close()
		for _, s := range sources {
			seen = append(seen, s.URI)
			for _, su := range s.Suites {
				if su == suite {
					return s.URI, nil
				}
			}
		}
	}
	return "", fmt.Errorf("find a Debian mirror for %s: no \"deb\" entry for suite %s in %s/etc/apt/sources.list or "+
		"sources.list.d (saw %v): add one, or set %s to the mirror's URL: %w", suite, suite, root, seen, mirrorEnv, ErrPrerequisite)
}

// parseOneLineSources reads the classic format: deb [options] URI suite [component...].
func parseOneLineSources(r io.Reader) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if strings.HasPrefix(fields[0], "[") {
			for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
				fields = fields[1:]
			}
			if len(fields) > 0 {
				fields = fields[1:]
			}
		}
		if len(fields) < 2 {
			continue
		}
		out = append(out, aptSource{URI: fields[0], Suites: []string{fields[1]}})
	}
	return out
}

// parseDeb822Sources reads the deb822 format: stanzas of Types, URIs, Suites, ... separated by blank lines.
func parseDeb822Sources(r io.Reader) []aptSource {
	var out []aptSource
	stanza := map[string]string{}
	flush := func() {
		if len(stanza) == 0 {
			return
		}
		enabled := !strings.EqualFold(stanza["enabled"], "no")
		if enabled && contains(strings.Fields(stanza["types"]), "deb") {
			suites := strings.Fields(stanza["suites"])
			for _, uri := range strings.Fields(stanza["uris"]) {
				out = append(out, aptSource{URI: uri, Suites: suites})
			}
		}
		stanza = map[string]string{}
	}
	var last string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				stanza[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			stanza[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
