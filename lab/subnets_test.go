package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

func TestDefaultSubnetsDoNotOverlap(t *testing.T) {
	var all []netip.Prefix
	for i := 0; i < maxIndex; i++ {
		s := defaultSubnets(i)
		if err := checkSubnets(s, nil); err != nil {
			t.Fatalf("index %d: %v", i, err)
		}
		for _, plane := range inventory.AllPlanes {
			for _, p := range all {
				if p.Overlaps(s[plane]) {
					t.Fatalf("index %d %s %s overlaps %s of an earlier index", i, plane, s[plane], p)
				}
			}
			all = append(all, s[plane])
		}
	}
	if got := defaultSubnets(0)[inventory.Management].String(); got != "172.30.10.0/24" {
		t.Errorf("first lab management subnet = %s", got)
	}
	if got := defaultSubnets(13)[inventory.Business].String(); got != "172.31.43.0/24" {
		t.Errorf("lab 13 business subnet = %s", got)
	}
}

func TestAllocateSubnets(t *testing.T) {
	taken := func(cidrs ...string) []takenNet {
		var out []takenNet
		for _, c := range cidrs {
			out = append(out, takenNet{netip.MustParsePrefix(c), "net " + c})
		}
		return out
	}
	tests := []struct {
		name      string
		overrides map[inventory.PlaneName]string
		taken     []takenNet
		wantIndex int
		wantMgmt  string
		wantErr   string
	}{
		{name: "empty machine", wantIndex: 0, wantMgmt: "172.30.10.0/24"},
		{name: "first lab running", taken: taken("172.30.10.0/24", "172.30.20.0/24"), wantIndex: 1, wantMgmt: "172.30.11.0/24"},
		{name: "foreign network in the way", taken: taken("172.30.0.0/16"), wantIndex: 10, wantMgmt: "172.31.10.0/24"},
		{name: "override one plane", overrides: map[inventory.PlaneName]string{"management": "10.9.0.0/24"},
			wantIndex: 0, wantMgmt: "10.9.0.0/24"},
		{name: "override all", overrides: map[inventory.PlaneName]string{"management": "10.9.0.0/24",
			"control": "10.9.1.0/24", "storage": "10.9.2.0/24", "business": "10.9.3.0/24"}, wantIndex: -1, wantMgmt: "10.9.0.0/24"},
		{name: "override overlaps pods", overrides: map[inventory.PlaneName]string{"business": "10.244.1.0/24"},
			wantErr: "overlaps the Kubernetes pod network"},
		{name: "override overlaps docker0", overrides: map[inventory.PlaneName]string{"control": "172.17.5.0/24"},
			wantErr: "Docker's default bridge"},
		{name: "overrides overlap each other", overrides: map[inventory.PlaneName]string{"control": "10.9.0.0/16",
			"storage": "10.9.2.0/24"}, wantErr: "overlaps the storage subnet"},
		{name: "override overlaps a docker network", overrides: map[inventory.PlaneName]string{"control": "10.9.0.0/24"},
			taken: taken("10.9.0.128/25"), wantErr: "net 10.9.0.128/25"},
		{name: "all taken", taken: taken("172.30.0.0/15"), wantErr: "no free lab subnets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, index, err := allocateSubnets(tt.overrides, tt.taken)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if index != tt.wantIndex || got[inventory.Management].String() != tt.wantMgmt {
				t.Errorf("got index %d management %s, want %d %s", index, got[inventory.Management], tt.wantIndex, tt.wantMgmt)
			}
			if len(got) != 4 {
				t.Errorf("got %d planes", len(got))
			}
			if err := checkSubnets(got, tt.taken); err != nil {
				t.Errorf("allocated subnets fail their own check: %v", err)
			}
		})
	}
}
