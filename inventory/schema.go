package inventory

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Schema returns a JSON Schema (draft 2020-12) for inventory files, generated from the Go types and their tags, so
// editors can complete and check inventories. berth's own validation goes further (cross-field rules).
func Schema() map[string]any {
	s := schemaFor(reflect.TypeFor[Inventory]())
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://berth.sh/schemas/inventory-v1alpha1.json"
	s["title"] = "berth inventory"
	return s
}

var durationType = reflect.TypeFor[Duration]()

func schemaFor(t reflect.Type) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case t == secretRefType:
		return map[string]any{"type": "string", "pattern": `^(env|file):.+$`, "description": "env:VAR or file:PATH"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaFor(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range yamlFieldsOf(t) {
			p := schemaFor(f.Type)
			if d := f.Tag.Get("desc"); d != "" {
				p["description"] = d
			}
			if e := f.Tag.Get("enum"); e != "" {
				vals := strings.Split(e, ",")
				if f.Type.Kind() == reflect.Slice {
					p["items"].(map[string]any)["enum"] = vals
				} else {
					p["enum"] = vals
				}
			}
			if d, ok := f.Tag.Lookup("default"); ok {
				if f.Type.Kind() == reflect.Int || (f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Int) {
					n, _ := strconv.Atoi(d)
					p["default"] = n
				} else {
					p["default"] = d
				}
			}
			props[f.name] = p
			if f.Tag.Get("required") == "true" {
				required = append(required, f.name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	panic(fmt.Sprintf("inventory: no schema for %s", t))
}

// taggedField is a struct field with its YAML name.
type taggedField struct {
	reflect.StructField
	name string
}

func yamlFieldsOf(t reflect.Type) []taggedField {
	var out []taggedField
	for _, fi := range yamlFields(t) {
		out = append(out, taggedField{StructField: t.Field(fi.index), name: fi.name})
	}
	return out
}

// Reference renders the field reference of docs/inventory.md from the same tags as the schema.
func Reference() string {
	var b strings.Builder
	seen := map[reflect.Type]bool{}
	var section func(title string, t reflect.Type)
	var nested []struct {
		title string
		t     reflect.Type
	}
	section = func(title string, t reflect.Type) {
		fmt.Fprintf(&b, "### `%s`\n\n| field | type | default | description |\n|---|---|---|---|\n", title)
		for _, f := range yamlFieldsOf(t) {
			typ, inner := typeName(f.Type)
			if e := f.Tag.Get("enum"); e != "" {
				typ = strings.ReplaceAll(e, ",", " \\| ")
				if f.Type.Kind() == reflect.Slice {
					typ = "list of " + typ
				}
			}
			desc := f.Tag.Get("desc")
			if f.Tag.Get("required") == "true" {
				desc = "**Required.** " + desc
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.name, typ, codeOrEmpty(f.Tag.Get("default")), desc)
			if inner != nil && !seen[inner] {
				seen[inner] = true
				path := title + "." + f.name
				if f.Type.Kind() == reflect.Slice {
					path += "[]"
				}
				nested = append(nested, struct {
					title string
					t     reflect.Type
				}{path, inner})
			}
		}
		b.WriteString("\n")
	}
	section("inventory", reflect.TypeFor[Inventory]())
	for len(nested) > 0 {
		n := nested[0]
		nested = nested[1:]
		section(strings.TrimPrefix(n.title, "inventory."), n.t)
	}
	return b.String()
}

func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// typeName names a field's type for the reference; inner is the struct type documented in its own section.
func typeName(t reflect.Type) (name string, inner reflect.Type) {
	switch {
	case t == durationType:
		return "duration", nil
	case t == secretRefType:
		return "secret reference", nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return "object", t
	case reflect.Slice:
		n, in := typeName(t.Elem())
		return "list of " + n, in
	case reflect.Map:
		n, _ := typeName(t.Elem())
		return "map of " + n, nil
	case reflect.Int:
		return "integer", nil
	case reflect.Bool:
		return "boolean", nil
	}
	return "string", nil
}
