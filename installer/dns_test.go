package installer

import (
	"strings"
	"testing"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/manifests"
)

func TestPlanHostDnsmasq(t *testing.T) {
	conf := []byte("port=53\nlisten-address=10.20.0.11\n")
	fresh := hostDnsmasq{Installed: true, Enabled: "enabled", Active: "inactive"} // as the package leaves it
	running := hostDnsmasq{Installed: true, Enabled: "enabled", Active: "active", ConfSum: airgap.SHA256(conf)}
	tests := []struct {
		name string
		have hostDnsmasq
		conf []byte
		want string
	}{
		{"management: package as installed", fresh, nil, "disable dnsmasq.service"},
		{"management: after the user variant", running, nil, "remove /etc/dnsmasq.d/berth.conf, disable dnsmasq.service, stop dnsmasq.service"},
		{"management: already off", hostDnsmasq{Installed: true, Enabled: "disabled", Active: "inactive"}, nil, ""},
		{"management: masked counts as off", hostDnsmasq{Installed: true, Enabled: "masked", Active: "inactive"}, nil, ""},
		{"not installed", hostDnsmasq{}, nil, ""},
		{"user: package as installed", fresh, conf, "write /etc/dnsmasq.d/berth.conf, (re)start dnsmasq.service"},
		{"user: from management", hostDnsmasq{Installed: true, Enabled: "disabled", Active: "inactive"}, conf,
			"write /etc/dnsmasq.d/berth.conf, enable dnsmasq.service, (re)start dnsmasq.service"},
		{"user: converged", running, conf, ""},
		{"user: configuration changed", running, []byte("port=53\nlisten-address=10.20.0.12\n"),
			"write /etc/dnsmasq.d/berth.conf, (re)start dnsmasq.service"},
		{"user: crashed", hostDnsmasq{Installed: true, Enabled: "enabled", Active: "failed", ConfSum: airgap.SHA256(conf)}, conf,
			"(re)start dnsmasq.service"},
		{"user: masked", hostDnsmasq{Installed: true, Enabled: "masked", Active: "inactive", ConfSum: airgap.SHA256(conf)}, conf,
			"unmask dnsmasq.service, enable dnsmasq.service, (re)start dnsmasq.service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planHostDnsmasq(tt.have, tt.conf)
			if got := strings.Join(p.describe(), ", "); got != tt.want {
				t.Errorf("plan = %q, want %q", got, tt.want)
			}
			if p.empty() != (tt.want == "") {
				t.Errorf("empty() = %v for %q", p.empty(), tt.want)
			}
		})
	}
}

func TestDNSValuesChangeObjects(t *testing.T) {
	render := func(v manifests.DNSValues) string {
		r, err := manifests.RenderDNS(v)
		if err != nil {
			t.Fatal(err)
		}
		return r.Manifest
	}
	base := manifests.DNSValues{Variant: manifests.DNSManagement, ClusterDomain: "cluster.local", ServiceIP: "10.96.0.10",
		APIServiceIP: "10.96.0.1", ReverseZones: []string{"96.10.in-addr.arpa"}, CacheSize: 1000,
		Images: manifests.DNSImages{Backend: "b", Dnsmasq: "d", Health: "h"}}
	user := base
	user.Variant = manifests.DNSUser
	upstream := base
	upstream.Upstreams = []string{"10.1.0.53"}
	tests := []struct {
		name string
		a, b manifests.DNSValues
		want string
	}{
		{"same values", base, base, ""},
		{"variant", base, user, "change ConfigMap kube-system/berth-dns, change DaemonSet kube-system/berth-dns"},
		{"upstream", base, upstream, "change ConfigMap kube-system/berth-dns, change DaemonSet kube-system/berth-dns"},
	}
	for _, tt := range tests {
		a, err := kube.Objects([]byte(render(tt.a)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := kube.Objects([]byte(render(tt.b)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(kube.ChangedObjects(a, b), ", "); got != tt.want {
			t.Errorf("%s: changed = %q, want %q", tt.name, got, tt.want)
		}
	}
	b, _ := kube.Objects([]byte(render(base)))
	if got := strings.Join(kube.ChangedObjects(b[:len(b)-1], b[1:]), ", "); got != "add DaemonSet kube-system/berth-dns, remove ServiceAccount kube-system/berth-dns" {
		t.Errorf("added and removed = %q", got)
	}
}
