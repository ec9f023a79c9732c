package lab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestEgressRules(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("172.30.10.11"), netip.MustParseAddr("172.30.20.11")}
	subnets := []netip.Prefix{netip.MustParsePrefix("172.30.10.0/24"), netip.MustParsePrefix("172.30.20.0/24")}
	fwd, in := egressRules("t", "cp1", addrs, subnets)
	join := func(rs [][]string) []string {
		var out []string
		for _, r := range rs {
			out = append(out, strings.Join(r, " "))
		}
		return out
	}
	c := "-m comment --comment berth-lab:t:cp1"
	wantFwd := []string{
		"-s 172.30.10.11/32 -m conntrack --ctstate RELATED,ESTABLISHED " + c + " -j RETURN",
		"-s 172.30.10.11/32 -d 172.30.10.0/24 " + c + " -j RETURN",
		"-s 172.30.10.11/32 -d 172.30.20.0/24 " + c + " -j RETURN",
		"-s 172.30.20.11/32 -m conntrack --ctstate RELATED,ESTABLISHED " + c + " -j RETURN",
		"-s 172.30.20.11/32 -d 172.30.10.0/24 " + c + " -j RETURN",
		"-s 172.30.20.11/32 -d 172.30.20.0/24 " + c + " -j RETURN",
		"-s 172.30.10.11/32 " + c + " -j DROP",
		"-s 172.30.20.11/32 " + c + " -j DROP",
	}
	if got := join(fwd); !slices.Equal(got, wantFwd) {
		t.Errorf("forward rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFwd, "\n"))
	}
	wantIn := []string{
		"-s 172.30.10.11/32 -m conntrack --ctstate RELATED,ESTABLISHED " + c + " -j RETURN",
		"-s 172.30.20.11/32 -m conntrack --ctstate RELATED,ESTABLISHED " + c + " -j RETURN",
		"-s 172.30.10.11/32 " + c + " -j DROP",
		"-s 172.30.20.11/32 " + c + " -j DROP",
	}
	if got := join(in); !slices.Equal(got, wantIn) {
		t.Errorf("input rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantIn, "\n"))
	}
	// Every rule of the host carries its comment, so UnblockEgress and Down find all of them.
	for _, r := range append(fwd, in...) {
		if !hasComment("-A X "+strings.Join(r, " "), egressComment("t", "cp1")) {
			t.Errorf("rule without the host's comment: %v", r)
		}
	}
}

func TestPodRules(t *testing.T) {
	bridges := map[string]netip.Prefix{"br-b": netip.MustParsePrefix("172.30.20.0/24"), "br-a": netip.MustParsePrefix("172.30.10.0/24")}
	subnets := []netip.Prefix{netip.MustParsePrefix("172.30.10.0/24"), netip.MustParsePrefix("172.30.20.0/24")}
	got := podRules("t", bridges, subnets)
	c := "-m comment --comment berth-lab:t:~pods"
	want := []string{
		"-i br-a ! -s 172.30.10.0/24 -d 172.30.10.0/24 " + c + " -j RETURN",
		"-i br-a ! -s 172.30.10.0/24 -d 172.30.20.0/24 " + c + " -j RETURN",
		"-i br-a ! -s 172.30.10.0/24 " + c + " -j DROP",
		"-i br-b ! -s 172.30.20.0/24 -d 172.30.10.0/24 " + c + " -j RETURN",
		"-i br-b ! -s 172.30.20.0/24 -d 172.30.20.0/24 " + c + " -j RETURN",
		"-i br-b ! -s 172.30.20.0/24 " + c + " -j DROP",
	}
	var lines []string
	for _, r := range got {
		lines = append(lines, strings.Join(r, " "))
	}
	if !slices.Equal(lines, want) {
		t.Errorf("pod rules:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestHasComment(t *testing.T) {
	rule := `-A BERTH-LAB-FWD -s 172.30.10.11/32 -m comment --comment "berth-lab:t:cp1" -j DROP`
	if !hasComment(rule, "berth-lab:t:cp1") {
		t.Error("quoted comment not found")
	}
	if hasComment(rule, "berth-lab:t:cp") || hasComment(rule, "berth-lab:t:cp12") {
		t.Error("comment matched by prefix")
	}
}
