package inventory

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pos is a 1-based line and column in the source file.
type pos struct{ Line, Col int }

// decoder turns a YAML node tree into Go values by reflection, strictly: unknown keys, duplicate keys and values of
// the wrong type are problems, and decoding goes on after each one so that all of them are reported together. It
// remembers where every field path was found so that later validation can point at it.
//
// Following aliases is the decoder's own business (the YAML library only builds the node tree), and so is the
// guard against aliases that expand exponentially: values decoded through aliases may number at most the nodes
// the file itself holds plus aliasAllowance. Past that, decoding stops at once and the file is refused.
type decoder struct {
	file     string
	problems Problems
	record   bool           // fill values and keys: only when building the index of positions (source.index)
	values   map[string]pos // path -> position of the value
	keys     map[string]pos // path -> position of the key (for "remove this key" messages)
	fields   fieldCache

	expanded  int        // values decoded through aliases so far
	budget    int        // how many they may be
	alias     *yaml.Node // the outermost alias being expanded, nil outside aliases
	overflown *yaml.Node // the alias during which the budget ran out: decoding stops
}

// aliasAllowance is how many values aliases may add to any file, however small.
const aliasAllowance = 10000

func newDecoder(file string, root *yaml.Node, record bool) *decoder {
	nodes, keys := countNodes(root)
	d := &decoder{file: file, record: record, fields: fieldCache{}, budget: nodes + aliasAllowance}
	if record {
		// Sized for what the file holds, the maps never grow (and rehash) while a large file is indexed.
		d.values, d.keys = make(map[string]pos, nodes-keys), make(map[string]pos, keys)
	}
	return d
}

// countNodes counts the nodes written in the file, and how many of them are mapping keys. An alias counts once,
// not as what it points at.
func countNodes(n *yaml.Node) (nodes, keys int) {
	nodes = 1
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			keys++
		}
		cn, ck := countNodes(c)
		nodes, keys = nodes+cn, keys+ck
	}
	return nodes, keys
}

func (d *decoder) errorf(n *yaml.Node, path, fix, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Message: fmt.Sprintf(format, args...), Fix: fix}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// decode fills v (settable) from n. path is the field path of v.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.overflown != nil {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorf(n, path, "define the anchor &"+n.Value+" before using it", "alias *%s names no anchor", n.Value)
			return
		}
		if d.alias == nil {
			d.alias = n
			defer func() { d.alias = nil }()
		}
		n = n.Alias
	}
	if d.alias != nil {
		if d.expanded++; d.expanded > d.budget {
			d.overflown = d.alias
			return
		}
	}
	if d.record {
		d.values[path] = pos{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the zero value in place
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if !d.expect(n, yaml.ScalarNode, path, "a text value") {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, path, "write a duration such as 10s, 2m or 1h30m", "%q is not a valid duration", n.Value)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if !d.expect(n, yaml.SequenceNode, path, "a list") {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if d.expect(n, yaml.ScalarNode, path, "a text value") {
			v.SetString(n.Value)
		}
	case reflect.Int:
		if !d.expect(n, yaml.ScalarNode, path, "a whole number") {
			return
		}
		i, err := strconv.Atoi(n.Value)
		if err != nil {
			d.errorf(n, path, "write a whole number, such as 22", "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if !d.expect(n, yaml.ScalarNode, path, "true or false") {
			return
		}
		switch n.Value {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n, path, "write true or false", "%q is not true or false", n.Value)
		}
	default:
		panic(fmt.Sprintf("inventory: no decoder for %s", v.Type()))
	}
}

// aliasProblem is the one problem of a file whose aliases expand past the budget.
func (d *decoder) aliasProblem() Problem {
	return Problem{File: d.file, Line: d.overflown.Line, Column: d.overflown.Column,
		Message: fmt.Sprintf("the file's aliases expand to more than %d values (it writes %d itself): refused, as aliases that multiply like this exhaust memory",
			d.budget, d.budget-aliasAllowance),
		Fix: "write the repeated parts out instead of aliasing them, or alias fewer and smaller parts"}
}

func (d *decoder) expect(n *yaml.Node, kind yaml.Kind, path, what string) bool {
	if n.Kind == kind {
		return true
	}
	d.errorf(n, path, fmt.Sprintf("write %s here", what), "expected %s, found %s", what, describe(n))
	return false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// fieldInfo describes one struct field as the YAML file sees it.
type fieldInfo struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, fieldInfo{name: name, index: i})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping (key: value lines)") {
		return
	}
	fields := d.fields.of(v.Type())
	// Which fields were set, to report a key written twice. Every struct of the inventory has fewer than 64
	// fields, so a bit set does, without an allocation; unknown keys, rare, get a map when one appears.
	var seenField uint64
	var seenUnknown map[string]bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := joinPath(path, k.Value)
		fi := findField(fields, k.Value)
		twice := false
		switch {
		case fi >= 64:
			panic(fmt.Sprintf("inventory: %s has more than 64 fields", v.Type()))
		case fi >= 0:
			twice = seenField&(1<<fi) != 0
			seenField |= 1 << fi
		default:
			twice = seenUnknown[k.Value]
			if seenUnknown == nil {
				seenUnknown = map[string]bool{}
			}
			seenUnknown[k.Value] = true
		}
		if twice {
			d.errorf(k, fp, "keep one of the two entries", "key %q appears twice", k.Value)
			continue
		}
		if fi < 0 {
			d.unknownField(k, v.Type(), fields, fp)
			continue
		}
		if d.record {
			d.keys[fp] = pos{k.Line, k.Column}
		}
		d.decode(val, v.Field(fields[fi].index), fp)
	}
}

// fieldCache remembers the YAML fields of each struct type for one walk over an inventory.
type fieldCache map[reflect.Type][]fieldInfo

func (c fieldCache) of(t reflect.Type) []fieldInfo {
	f, ok := c[t]
	if !ok {
		f = yamlFields(t)
		c[t] = f
	}
	return f
}

// findField returns the index in fields of the field called name, or -1.
func findField(fields []fieldInfo, name string) int {
	for i, f := range fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// inlineSecretKeys are keys people write when they mean to put a secret inline; berth names the reference field.
var inlineSecretKeys = map[string]bool{"password": true, "sudoPassword": true, "key": true, "secret": true, "token": true,
	"credentials": true, "username": true, "applicationCredentialSecret": true, "applicationCredentialID": true}

func (d *decoder) unknownField(k *yaml.Node, t reflect.Type, fields []fieldInfo, path string) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if inlineSecretKeys[k.Value] {
		if ref := k.Value + "From"; contains(names, ref) {
			d.errorf(k, path, fmt.Sprintf("remove %s and write %s: env:VAR (or file:PATH) naming where the secret is kept", k.Value, ref),
				"secrets are never written inline")
			return
		}
	}
	if s := suggest(k.Value, names); s != "" {
		d.errorf(k, path, fmt.Sprintf("did you mean %q?", s), "unknown field %q", k.Value)
		return
	}
	d.errorf(k, path, "remove it; allowed here: "+strings.Join(names, ", "), "unknown field %q", k.Value)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping (key: value lines)") {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := joinPath(path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.errorf(k, fp, "keep one of the two entries", "key %q appears twice", k.Value)
			continue
		}
		if d.record {
			d.keys[fp] = pos{k.Line, k.Column}
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, fp)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains[T comparable](list []T, x T) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s when it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		dist := EditDistance(strings.ToLower(s), strings.ToLower(c))
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// EditDistance is the Levenshtein distance between a and b: the "did you mean" of every suggestion berth makes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
