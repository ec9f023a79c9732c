package inventory

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestInvalidInventories loads every broken inventory under testdata/invalid and compares the full report with its
// golden file. Each file breaks one rule; the golden shows the line:column, field path and fix berth prints.
func TestInvalidInventories(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("want at least 15 broken inventories, found %d", len(files))
	}
	located := regexp.MustCompile(`(?m)^testdata/invalid/[^:]+\.yaml:\d+:\d+: (warning: )?[a-zA-Z]`)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			_, err := Load(f)
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("Load(%s) = %v, want an *inventory.Error", f, err)
			}
			got := err.Error() + "\n"
			// Every problem names a position, a field path (or says where) and a fix.
			for _, p := range ie.Problems {
				if p.Line == 0 || p.Column == 0 {
					t.Errorf("problem without a position: %s", p)
				}
				if p.Fix == "" {
					t.Errorf("problem without a fix: %s", p)
				}
			}
			if !located.MatchString(got) {
				t.Errorf("report does not start problems with file:line:col:\n%s", got)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inventory -run TestInvalidInventories -update)", err)
			}
			if got != string(want) {
				t.Errorf("report differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestValidInventories(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestExampleIsValidAndComplete(t *testing.T) {
	inv, problems := Parse("example.yaml", Example)
	if len(problems) > 0 {
		t.Fatalf("example does not parse: %v", problems)
	}
	inv.Default()
	if ps := inv.Validate(); len(ps) > 0 {
		t.Fatalf("example has problems:\n%v", ps)
	}
	if got := len(inv.ControlPlanes()); got != 3 {
		t.Errorf("example has %d control planes, want 3", got)
	}
	if got := len(inv.Workers()); got != 2 {
		t.Errorf("example has %d workers, want 2", got)
	}
	if got := len(inv.HostsWith(RoleRegistry)); got != 2 {
		t.Errorf("example has %d registry hosts, want 2", got)
	}
	if got := len(inv.NetworkPlanes.Defined()); got != 4 {
		t.Errorf("example defines %d planes, want 4", got)
	}
	// Every section of the schema appears in the example.
	for _, f := range yamlFieldsOf(reflect.TypeFor[Inventory]()) {
		if !strings.Contains(string(Example), "\n"+f.name+":") && f.name != "apiVersion" {
			t.Errorf("example lacks section %q", f.name)
		}
	}
}

// TestRoundTrip checks that Parse followed by Marshal keeps every field the user wrote (the wizard's --from).
func TestRoundTrip(t *testing.T) {
	inv, problems := Parse("example.yaml", Example)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	out, err := Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	again, problems := Parse("roundtrip.yaml", out)
	if len(problems) > 0 {
		t.Fatalf("marshalled inventory does not parse: %v\n%s", problems, out)
	}
	inv.src, again.src = nil, nil
	if !reflect.DeepEqual(inv, again) {
		t.Errorf("round trip changed the inventory:\n%s", out)
	}
}

func TestDefaultsMatchTags(t *testing.T) {
	inv, _ := Parse("example.yaml", Example)
	// Strip everything that has a default and check Default puts the documented value back.
	inv.SSH.Port, inv.SSH.ConnectTimeout = 0, 0
	inv.ControlPlane.Port, inv.ControlPlane.LoadBalancer = 0, LoadBalancer{}
	inv.Kubernetes = Kubernetes{}
	inv.DNS = DNS{}
	inv.Registries[0].Port, inv.Registries[0].Engine, inv.Registries[0].StoragePath = 0, "", ""
	inv.Default()
	check := func(structType reflect.Type, field string, got any) {
		t.Helper()
		f, ok := structType.FieldByName(field)
		if !ok {
			t.Fatalf("no field %s", field)
		}
		want := f.Tag.Get("default")
		if g := strings.TrimPrefix(stringOf(got), "&"); g != want {
			t.Errorf("%s.%s defaults to %q, tag says %q", structType.Name(), field, g, want)
		}
	}
	check(reflect.TypeFor[SSH](), "Port", inv.SSH.Port)
	check(reflect.TypeFor[SSH](), "ConnectTimeout", inv.SSH.ConnectTimeout)
	check(reflect.TypeFor[ControlPlane](), "Port", inv.ControlPlane.Port)
	check(reflect.TypeFor[LoadBalancer](), "Type", inv.ControlPlane.LoadBalancer.Type)
	check(reflect.TypeFor[LoadBalancer](), "VirtualRouterID", inv.ControlPlane.LoadBalancer.VirtualRouterID)
	check(reflect.TypeFor[LoadBalancer](), "APIServerPort", inv.ControlPlane.LoadBalancer.APIServerPort)
	check(reflect.TypeFor[Kubernetes](), "PodCIDR", inv.Kubernetes.PodCIDR)
	check(reflect.TypeFor[Kubernetes](), "ServiceCIDR", inv.Kubernetes.ServiceCIDR)
	check(reflect.TypeFor[Kubernetes](), "ClusterDomain", inv.Kubernetes.ClusterDomain)
	check(reflect.TypeFor[Kubernetes](), "CNI", inv.Kubernetes.CNI)
	check(reflect.TypeFor[Kubernetes](), "ProxyMode", inv.Kubernetes.ProxyMode)
	check(reflect.TypeFor[DNS](), "Variant", inv.DNS.Variant)
	check(reflect.TypeFor[DNS](), "Backend", inv.DNS.Backend)
	check(reflect.TypeFor[DNS](), "CacheSize", *inv.DNS.CacheSize)
	check(reflect.TypeFor[Registry](), "Port", inv.Registries[0].Port)
	check(reflect.TypeFor[Registry](), "Engine", inv.Registries[0].Engine)
	check(reflect.TypeFor[Registry](), "StoragePath", inv.Registries[0].StoragePath)
	if inv.ControlPlane.VIPPlane != Control || inv.Kubernetes.PodPlane != Business {
		t.Errorf("plane defaults: vip on %s, pods on %s", inv.ControlPlane.VIPPlane, inv.Kubernetes.PodPlane)
	}
	if len(inv.DNS.Hosts) != 3 {
		t.Errorf("DNS hosts default to %v, want the three control planes", inv.DNS.Hosts)
	}
}

func stringOf(v any) string {
	switch x := v.(type) {
	case Duration:
		return x.String()
	}
	return strings.TrimSpace(strings.ReplaceAll(reflect.ValueOf(v).String(), "<int Value>", "")) + intString(v)
}

func intString(v any) string {
	if n, ok := v.(int); ok {
		return itoa(n)
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestSecretsNeverEchoed(t *testing.T) {
	data := strings.Replace(string(Example), "keyFrom: env:BERTH_CEPH_KEY", "keyFrom: AQBx-top-secret-key==", 1)
	inv, _ := Parse("x.yaml", []byte(data))
	inv.Default()
	for _, p := range inv.Validate() {
		if strings.Contains(p.String(), "top-secret") {
			t.Errorf("problem repeats the secret: %s", p)
		}
	}
}

func TestSSHFor(t *testing.T) {
	inv, _ := Parse("/etc/berth/inv.yaml", Example)
	inv.Default()
	no := false
	inv.Hosts[1].SSH = &HostSSH{User: "root", Port: 2222, Sudo: &no,
		HostKeys: []string{"SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}}
	a := inv.SSHFor(&inv.Hosts[0])
	if a.User != "berth" || !a.Sudo || a.Port != 22 || a.IdentityFiles[0] != "/etc/berth/keys/berth_ed25519" ||
		a.KnownHosts != "/etc/berth/known_hosts" {
		t.Errorf("SSHFor(cp1) = %+v", a)
	}
	b := inv.SSHFor(&inv.Hosts[1])
	if b.User != "root" || b.Sudo || b.Port != 2222 || len(b.HostKeys) != 1 {
		t.Errorf("SSHFor(cp2) = %+v", b)
	}
}
