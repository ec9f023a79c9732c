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
	for _, ref := range []string{"passwordFrom", "sudoPasswordFrom"} {
		if ssh[ref].(map[string]any)["pattern"] != `^(env|file):.+$` {
			t.Errorf("%s is not constrained to a reference: %v", ref, ssh[ref])
		}
	}
	hostSSH := hosts["properties"].(map[string]any)["ssh"].(map[string]any)["properties"].(map[string]any)
	if hostSSH["sudoPasswordFrom"].(map[string]any)["pattern"] != `^(env|file):.+$` || hostSSH["bastion"].(map[string]any)["type"] != "object" {
		t.Errorf("hosts[].ssh lacks sudoPasswordFrom or bastion: %v", hostSSH)
	}
	cp := props["controlPlane"].(map[string]any)["properties"].(map[string]any)
	if cp["certSANs"].(map[string]any)["type"] != "array" {
		t.Errorf("controlPlane.certSANs: %v", cp["certSANs"])
	}
	dns := props["dns"].(map[string]any)["properties"].(map[string]any)
	fwd := dns["forward"].(map[string]any)["items"].(map[string]any)
	if req := fwd["required"].([]any); len(req) != 2 || req[0] != "domain" || req[1] != "servers" || fwd["additionalProperties"] != false {
		t.Errorf("dns.forward items: %v", fwd)
	}
	if dns["searchDomains"].(map[string]any)["type"] != "array" {
		t.Errorf("dns.searchDomains: %v", dns["searchDomains"])
	}
}
