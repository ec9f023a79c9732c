package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/berthsh/berth/internal/localfile"
	"go.yaml.in/yaml/v3"
)

// source remembers the file an inventory came from and, when a problem needs it, where each field was written in
// it. The index of positions is as large as the file's node tree; it is built from the file's bytes the first
// time a position is asked for, so loading a large valid inventory never holds both.
type source struct {
	file string
	dir  string

	once   sync.Once
	data   []byte         // the file, until the index is built
	values map[string]pos // path -> position of the value
	keys   map[string]pos // path -> position of the key
}

// index returns the positions of values and keys by field path.
func (s *source) index() (values, keys map[string]pos) {
	s.once.Do(func() {
		s.values, s.keys = map[string]pos{}, map[string]pos{}
		if root, p := parseTree(s.file, s.data); p == nil {
			d := newDecoder(s.file, root, true)
			d.decode(root, reflect.ValueOf(&Inventory{}).Elem(), "")
			s.values, s.keys = d.values, d.keys
		}
		s.data = nil
	})
	return s.values, s.keys
}

// Load reads, defaults and validates the inventory at path. On success the returned inventory has every default
// filled in, and its warnings (if any) are available from Warnings. On failure the error is an *Error listing
// every problem, each with file:line:col, field path and fix.
func Load(path string) (*Inventory, error) { return load(path, false) }

// LoadAndCheckFiles is Load, and then checks this machine too: every file the inventory names (keys,
// known_hosts, file: secrets) exists and can be read (LocalFiles). `berth inventory validate` uses it; actions
// use Load, and a file they cannot read fails the step that needs it.
func LoadAndCheckFiles(path string) (*Inventory, error) { return load(path, true) }

func load(path string, files bool) (*Inventory, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	inv, problems := Parse(path, data)
	if inv.src == nil {
		return nil, &Error{File: path, Problems: problems} // not YAML at all: nothing to validate
	}
	inv.Default()
	problems = append(problems, withoutKnockOns(inv.Validate(), problems)...)
	problems = append(problems, inv.secretFileWarnings()...)
	if files {
		problems = append(problems, inv.LocalFiles()...)
	}
	problems.Sort()
	if len(problems.Errors()) > 0 {
		return nil, &Error{File: path, Problems: problems}
	}
	inv.warnings = problems.Warnings()
	return inv, nil
}

// ReadFile reads an inventory file: a regular file of at most 16 MiB, far more than any real inventory (a 1 MiB
// file describes 2 000 hosts). A FIFO, a device or a larger file is refused at once.
func ReadFile(path string) ([]byte, error) {
	data, _, err := localfile.Read(path, localfile.InventoryLimit)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return data, nil
}

// withoutKnockOns drops validation problems about fields that already failed to decode: a port that is not a
// number is reported once as such, not again as "out of range". It looks up each validation problem's path and
// its ancestors in a set, so a file with many problems of both kinds takes linear time, not quadratic.
func withoutKnockOns(validation, decoding Problems) Problems {
	failed := make(map[string]bool, len(decoding))
	for _, d := range decoding {
		if d.Path != "" {
			failed[d.Path] = true
		}
	}
	var out Problems
	for _, p := range validation {
		knockOn := false
		for q := p.Path; q != "" && !knockOn; q = parentPath(q) {
			knockOn = failed[q]
		}
		if !knockOn {
			out = append(out, p)
		}
	}
	return out
}

// Parse decodes an inventory without defaulting or validating it, so that it can be edited and written back with
// only what the user wrote (the wizard's --from). The problems are decoding problems: syntax, unknown fields, types.
// The inventory keeps data to find where fields were written when a later problem needs it: do not change it.
func Parse(file string, data []byte) (*Inventory, Problems) {
	inv := &Inventory{}
	root, p := parseTree(file, data)
	if p != nil {
		return inv, Problems{*p}
	}
	d := newDecoder(file, root, false)
	d.decode(root, reflect.ValueOf(inv).Elem(), "")
	if d.overflown != nil {
		return &Inventory{}, Problems{d.aliasProblem()}
	}
	abs, _ := filepath.Abs(file)
	inv.src = &source{file: file, dir: filepath.Dir(abs), data: data}
	d.problems.Sort()
	return inv, d.problems
}

// parseTree parses data into the root node of its one YAML document, or returns the problem that prevents it.
func parseTree(file string, data []byte) (*yaml.Node, *Problem) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errorsEOF) {
			return nil, &Problem{File: file, Line: 1, Column: 1, Message: "the file is empty", Fix: "start from `berth inventory example`"}
		}
		p := syntaxProblem(file, data, err)
		return nil, &p
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Problem{File: file, Line: extra.Line, Column: extra.Column,
			Message: "a second YAML document follows the inventory", Fix: "keep one inventory per file; remove the text after ---"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, nil
}

var errorsEOF = errorsEOFValue()

func errorsEOFValue() error {
	var n yaml.Node
	return yaml.NewDecoder(bytes.NewReader(nil)).Decode(&n)
}

var yamlLine = regexp.MustCompile(`line (\d+)(?:, column (\d+))?: (.*)`)

func syntaxProblem(file string, data []byte, err error) Problem {
	// Without a line in the message the parser ran off the end of the file (an unclosed quote or bracket).
	p := Problem{File: file, Line: bytes.Count(data, []byte("\n")) + 1, Column: 1,
		Message: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: "),
		Fix:     "check indentation (spaces only), that every key is followed by ': ', and that quotes and brackets are closed"}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column = 1
		if m[2] != "" {
			p.Column, _ = strconv.Atoi(m[2])
		}
		p.Message = "YAML syntax: " + m[3]
	}
	return p
}

// File returns the path the inventory was read from, or "" for one built in memory.
func (inv *Inventory) File() string {
	if inv.src == nil {
		return ""
	}
	return inv.src.file
}

// Dir returns the directory relative paths in the inventory are resolved against.
func (inv *Inventory) Dir() string {
	if inv.src == nil {
		wd, _ := os.Getwd()
		return wd
	}
	return inv.src.dir
}

// SetDir sets the directory relative paths are resolved against, for inventories built in memory.
func (inv *Inventory) SetDir(dir string) {
	if inv.src == nil {
		inv.src = &source{}
	}
	inv.src.dir = dir
}

// ResolvePath makes a path from the inventory (identity file, known_hosts) absolute.
func (inv *Inventory) ResolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if len(p) > 1 && p[0] == '~' && p[1] == '/' {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(inv.Dir(), p)
}

// Warnings returns the warnings Load found (an even number of etcd members, for example).
func (inv *Inventory) Warnings() Problems { return inv.warnings }

// position returns where path (or its closest written ancestor) appears in the file.
func (inv *Inventory) position(path string) (line, col int) {
	if inv.src == nil {
		return 0, 0
	}
	values, _ := inv.src.index()
	for p := path; ; p = parentPath(p) {
		if at, ok := values[p]; ok {
			return at.Line, at.Col
		}
		if p == "" {
			return 0, 0
		}
	}
}

// keyPosition returns where the key of path was written, falling back to the value's position.
func (inv *Inventory) keyPosition(path string) (line, col int) {
	if inv.src != nil {
		_, keys := inv.src.index()
		if at, ok := keys[path]; ok {
			return at.Line, at.Col
		}
	}
	return inv.position(path)
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// Marshal writes the inventory as YAML with the apiVersion and kind first.
func Marshal(inv *Inventory) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
