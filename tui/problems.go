package tui

import (
	"fmt"
	"strings"

	"github.com/berthsh/berth/inventory"
)

// previewName is the file name problems of the preview carry; their lines refer to the YAML preview.
const previewName = "preview"

// revalidate renders the inventory as it would be written and validates that text the way `berth inventory
// validate` would: parsed back, defaulted, validated. The inventory being edited is never defaulted, so the file
// keeps only what the operator (or the -i file) wrote.
func (m *Model) revalidate() {
	m.yaml, m.yamlErr = inventory.Marshal(m.inv)
	if m.yamlErr != nil {
		m.problems = nil
		return
	}
	m.problems = checkYAML(m.yaml)
}

// checkYAML validates inventory text; problems carry lines of that text.
func checkYAML(data []byte) inventory.Problems {
	cp, problems := inventory.Parse(previewName, data)
	cp.Default()
	problems = append(problems, cp.Validate()...)
	problems.Sort()
	return problems
}

// problemsUnder returns the problems whose path lies under one of prefixes.
func (m *Model) problemsUnder(prefixes ...string) inventory.Problems {
	var out inventory.Problems
	for _, p := range m.problems {
		for _, pre := range prefixes {
			if pathWithin(p.Path, pre) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// errorCount counts errors among problems.
func errorCount(ps inventory.Problems) int { return len(ps.Errors()) }

// hostIndex extracts i from a path starting with hosts[i]; ok is false for other paths.
func hostIndex(path string) (int, bool) {
	var i int
	if !strings.HasPrefix(path, "hosts[") {
		return 0, false
	}
	if _, err := fmt.Sscanf(path, "hosts[%d]", &i); err != nil {
		return 0, false
	}
	return i, true
}

// listIndex extracts i from a path starting with prefix[i].
func listIndex(path, prefix string) (int, bool) {
	var i int
	if !strings.HasPrefix(path, prefix+"[") {
		return 0, false
	}
	if _, err := fmt.Sscanf(path[len(prefix):], "[%d]", &i); err != nil {
		return 0, false
	}
	return i, true
}

// isNICPath reports whether a path names a host's NICs (hosts[i].nics...).
func isNICPath(path string) bool {
	i, ok := hostIndex(path)
	if !ok {
		return false
	}
	return pathWithin(path, fmt.Sprintf("hosts[%d].nics", i))
}
