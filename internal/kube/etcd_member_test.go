package kube

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestEtcdOneMember(t *testing.T) {
	ec := startEtcd(t, 1)
	e := ec.client(t, ec.endpoints...)
	ctx := context.Background()

	members, err := e.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0].Name != "m0" || !members[0].Started() || members[0].ClientURLs[0] != ec.endpoints[0] {
		t.Fatalf("members: %+v", members)
	}
	if m, ok := MemberAt(members, "127.0.0.1"); !ok || m.ID != members[0].ID {
		t.Errorf("MemberAt by peer address: %+v %v", m, ok)
	}
	if _, ok := MemberAt(members, "10.9.9.9"); ok {
		t.Error("MemberAt found a member at an address none has")
	}

	health := e.Health(ctx)
	if len(health) != 1 || !health[0].Healthy || !health[0].Leader || health[0].ID != members[0].ID ||
		!strings.HasPrefix(health[0].Version, "3.7.") || health[0].DBSize == 0 {
		t.Errorf("health: %+v", health)
	}
	if done, status := check(t, e.Healthy()); !done || status != "1/1 etcd members healthy, leader m0" {
		t.Errorf("Healthy: %v %q", done, status)
	}

	// A member added but never started (a join killed half-way) keeps the cluster from being healthy until it
	// is removed. A learner does not count towards the quorum, so the one started member can still remove it.
	added, err := e.cli.MemberAddAsLearner(ctx, []string{"http://10.255.1.99:2380"})
	if err != nil {
		t.Fatal(err)
	}
	done, status := check(t, e.Healthy())
	if want := "member " + hexID(added.Member.ID) + " has not started"; done || !strings.Contains(status, want) {
		t.Errorf("with a member not started: %v %q, want %q", done, status, want)
	}
	if err := e.RemoveMember(ctx, added.Member.ID); err != nil {
		t.Fatal(err)
	}
	if members, _ = e.Members(ctx); len(members) != 1 {
		t.Errorf("after removing the learner: %+v", members)
	}
	await(t, e.Healthy(), 30*time.Second)
	if err := e.RemoveMember(ctx, added.Member.ID); err == nil || !strings.Contains(err.Error(), hexID(added.Member.ID)) {
		t.Errorf("removing a member twice: %v", err)
	}

	for _, d := range ec.dials {
		if !strings.HasPrefix(d, "10.255.1.") {
			t.Errorf("dialled %s, not through the tunnel", d)
		}
	}
	if len(ec.dials) == 0 {
		t.Error("the client never used the dialer")
	}
}

func TestEtcdRefusesAnUnknownCA(t *testing.T) {
	ec := startEtcd(t, 1)
	other := newTestCA(t)
	cert, key := other.issue(t, "intruder")
	e, err := NewEtcd(EtcdOptions{Endpoints: ec.endpoints, CA: other.PEM, Cert: cert, Key: key, Dial: ec.dial,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Members(context.Background()); err == nil {
		t.Error("listed members with a CA that did not sign etcd's certificate")
	}
	if h := e.Health(context.Background()); h[0].Healthy || h[0].Err == "" {
		t.Errorf("health with the wrong CA: %+v", h)
	}
	if _, err := NewEtcd(EtcdOptions{Endpoints: ec.endpoints, CA: []byte("nope"), Cert: cert, Key: key}); err == nil {
		t.Error("NewEtcd took a CA that is not PEM")
	}
	if _, err := NewEtcd(EtcdOptions{CA: other.PEM, Cert: cert, Key: key}); err == nil {
		t.Error("NewEtcd took no endpoints")
	}
}

// TestEtcdThreeMembers stops a member of a three-member cluster: the cluster keeps its quorum, Healthy waits
// and names the member, a snapshot comes from the next member, and once the member is removed the rest is healthy.
func TestEtcdThreeMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd members")
	}
	ec := startEtcd(t, 3)
	e := ec.client(t, ec.endpoints...)
	ctx := context.Background()
	status := await(t, e.Healthy(), time.Minute)
	if !strings.HasPrefix(status, "3/3 etcd members healthy, leader m") {
		t.Errorf("Healthy: %q", status)
	}
	leaders := 0
	for _, h := range e.Health(ctx) {
		if h.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d members say they lead", leaders)
	}
	// Handing off: from a follower nothing moves; from the leader another member leads afterwards.
	var leaderEP, followerEP string
	for _, h := range e.Health(ctx) {
		if h.Leader {
			leaderEP = h.Endpoint
		} else {
			followerEP = h.Endpoint
		}
	}
	if moved, err := e.HandOffLeader(ctx, followerEP); err != nil || moved != "" {
		t.Errorf("hand-off from a follower: %q, %v", moved, err)
	}
	moved, err := e.HandOffLeader(ctx, leaderEP)
	if err != nil || moved == "" {
		t.Fatalf("hand-off from the leader: %q, %v", moved, err)
	}
	await(t, e.Healthy(), time.Minute)
	var leaderNow, preferred string
	for _, h := range e.Health(ctx) {
		if h.Endpoint == leaderEP && h.Leader {
			t.Errorf("%s still leads after the hand-off", leaderEP)
		}
		if h.Leader {
			leaderNow = h.Endpoint
		} else {
			preferred = h.Endpoint // the last follower: not the one a hand-off without preference picks
		}
	}
	// Handing off with a preferred member: that one leads afterwards, of the two that could.
	if _, err := e.HandOffLeader(ctx, leaderNow, preferred); err != nil {
		t.Fatalf("hand-off to a preferred member: %v", err)
	}
	await(t, e.Healthy(), time.Minute)
	for _, h := range e.Health(ctx) {
		if h.Leader && h.Endpoint != preferred {
			t.Errorf("%s leads after a hand-off that preferred %s", h.Endpoint, preferred)
		}
	}

	members, err := e.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m0 Member
	for _, m := range members {
		if m.ClientURLs[0] == ec.endpoints[0] {
			m0 = m
		}
	}
	ec.stops[0]()

	done, status := check(t, e.Healthy())
	if done || !strings.Contains(status, "2/3 etcd members healthy") || !strings.Contains(status, "m0:") {
		t.Errorf("with m0 stopped: %v %q", done, status)
	}
	var buf strings.Builder
	if size, _, err := e.Snapshot(ctx, &buf); err != nil || size == 0 {
		t.Errorf("snapshot with the first endpoint down: %d bytes, %v", size, err)
	}

	if err := e.RemoveMember(ctx, m0.ID); err != nil {
		t.Fatal(err)
	}
	rest := ec.client(t, ec.endpoints[1:]...)
	status = await(t, rest.Healthy(), time.Minute)
	if !strings.HasPrefix(status, "2/2 etcd members healthy, leader m") {
		t.Errorf("after removing m0: %q", status)
	}
}
