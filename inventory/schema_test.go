package inventory

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const (
	refBegin = "<!-- BEGIN GENERATED REFERENCE -->\n"
	refEnd   = "<!-- END GENERATED REFERENCE -->"
)

// TestReferenceDoc keeps docs/inventory.md's field reference identical to what the types say.
func TestReferenceDoc(t *testing.T) {
	const path = "../docs/inventory.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), refBegin)
	_, after, ok2 := strings.Cut(rest, refEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the generated-reference markers", path)
	}
	want := before + refBegin + Reference() + refEnd + after
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(doc) != want {
		t.Errorf("%s is out of date: run go test ./inventory -run TestReferenceDoc -update", path)
	}
}

func TestSchema(t *testing.T) {
	s := Schema()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	props := back["properties"].(map[string]any)
	for _, key := range []string{"apiVersion", "kind", "metadata", "ssh", "networkPlanes", "hosts", "controlPlane",
		"kubernetes", "dns", "registries", "storage", "tenants", "openstack"} {
		if _, ok := props[key]; !ok {
			t.Errorf("schema lacks %s", key)
		}
	}
	if back["additionalProperties"] != false {
		t.Error("schema allows unknown top-level keys")
	}
	hosts := props["hosts"].(map[string]any)["items"].(map[string]any)
	roles := hosts["properties"].(map[string]any)["roles"].(map[string]any)["items"].(map[string]any)
	if len(roles["enum"].([]any)) != len(AllRoles) {
		t.Errorf("roles enum = %v", roles["enum"])
	}
	ssh := props["ssh"].(map[string]any)["properties"].(map[string]any)
	if ssh["passwordFrom"].(map[string]any)["pattern"] != `^(env|file):.+$` {
		t.Errorf("passwordFrom is not constrained to a reference: %v", ssh["passwordFrom"])
	}
}
