package manifests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func testDNSCache() DNSCache {
	return DNSCache{ServiceIP: "10.96.0.10", Servers: []string{"10.20.0.11", "10.20.0.12", "10.20.0.13"}, CacheSize: 1000}
}

// The cache's files render as the goldens, dnsmasq accepts its configuration and the script is valid sh.
func TestDNSCacheFiles(t *testing.T) {
	conf, unit, script, err := DNSCacheFiles(testDNSCache())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "dns-cache.conf", conf)
	golden(t, "berth-dns-cache.service", unit)
	golden(t, "dns-cache-net.sh", script)
	dir := t.TempDir()
	p := filepath.Join(dir, "dns-cache.conf")
	os.WriteFile(p, conf, 0o644)
	if out, err := exec.Command(requireTool(t, "dnsmasq"), "--test", "--conf-file="+p).CombinedOutput(); err != nil || !strings.Contains(string(out), "syntax check OK") {
		t.Errorf("dnsmasq --test: %v\n%s", err, out)
	}
	s := filepath.Join(dir, "net.sh")
	os.WriteFile(s, script, 0o755)
	if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s", err, out)
	}
	for _, bad := range []DNSCache{{ServiceIP: "kube-dns", Servers: []string{"10.20.0.11"}}, {ServiceIP: "10.96.0.10"},
		{ServiceIP: "10.96.0.10", Servers: []string{"cp1"}}} {
		if _, _, _, err := DNSCacheFiles(bad); err == nil {
			t.Errorf("DNSCacheFiles(%+v) accepted", bad)
		}
	}
}

// TestDNSCacheLosesNoQuery runs the cache for real, in a network namespace of its own: three DNS hosts (dnsmasq
// instances on their control-plane addresses), kube-proxy's kind of DNAT rule sending the Service's address to a
// black hole, the cache's script and dnsmasq. Queries to the Service's address are all answered, through the cache
// and not the DNAT; they keep being answered, each within the client's timeout, while one DNS host is gone and
// after it is back; and stopping the cache gives the address back to the Service's rule.
func TestDNSCacheLosesNoQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsmasq and iptables in a network namespace")
	}
	for _, tool := range []string{"ip", "iptables", "dnsmasq"} {
		requireTool(t, tool)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for a network namespace")
		}
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("berth-dnscache-%d", os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	c := testDNSCache()
	run("ip", "link", "set", "lo", "up")
	run("ip", "link", "add", "ctl", "type", "bridge") // stands for the control-plane NIC (no dummy driver here)
	run("ip", "link", "set", "ctl", "up")
	dir := t.TempDir()
	var hosts []*exec.Cmd
	start := func(i int) *exec.Cmd {
		conf := filepath.Join(dir, fmt.Sprintf("host%d.conf", i))
		os.WriteFile(conf, []byte(fmt.Sprintf("port=53\nlisten-address=%s\nbind-interfaces\nno-resolv\nno-hosts\naddress=/kubernetes.default.svc.cluster.local/10.96.0.1\n", c.Servers[i])), 0o644)
		cmd := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+conf, "--pid-file=", "--user=root")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// Each DNS host's address on its own (/32), and the plane's network behind the bridge: an address that goes
	// away is then a host that no longer answers, as on the lab.
	for i, s := range c.Servers {
		run("ip", "addr", "add", s+"/32", "dev", "ctl")
		hosts = append(hosts, start(i))
	}
	run("ip", "addr", "add", "10.20.0.99/32", "dev", "ctl")
	run("ip", "route", "add", "10.20.0.0/24", "dev", "ctl", "src", "10.20.0.99")
	// What kube-proxy would do with the Service's address, pointed at an address nobody answers on.
	run("iptables", "-t", "nat", "-A", "OUTPUT", "-d", c.ServiceIP+"/32", "-p", "udp", "--dport", "53", "-j", "DNAT", "--to-destination", "10.20.0.250:53")

	conf, _, script, err := DNSCacheFiles(c)
	if err != nil {
		t.Fatal(err)
	}
	confPath, scriptPath := filepath.Join(dir, "cache.conf"), filepath.Join(dir, "net.sh")
	os.WriteFile(confPath, conf, 0o644)
	os.WriteFile(scriptPath, script, 0o755)
	run(scriptPath, "up")
	run(scriptPath, "up") // twice: idempotent
	if rules := run("iptables-save", "-t", "raw"); strings.Count(rules, "berth-dns-cache") != 6 {
		t.Fatalf("raw rules after two ups:\n%s", rules)
	}
	cache := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+confPath, "--pid-file=", "--user=root")
	if err := cache.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Process.Kill(); cache.Wait() })
	time.Sleep(300 * time.Millisecond)

	ask := func(phase string, n int) {
		t.Helper()
		failed, slowest, first := askN(t, ns, c.ServiceIP+":53", n)
		t.Logf("%s: %d of %d queries failed, slowest answer %s", phase, failed, n, slowest)
		if failed > 0 {
			t.Errorf("%s: %d of %d queries failed (first: %s)", phase, failed, n, first)
		}
	}
	ask("every DNS host up", 50)
	// Each DNS host in turn goes away (its process stops and its address goes, as when the host stops) and comes
	// back: whichever one the cache was asking, no query may fail.
	for i := range hosts {
		hosts[i].Process.Kill()
		hosts[i].Wait()
		run("ip", "addr", "del", c.Servers[i]+"/32", "dev", "ctl")
		ask(fmt.Sprintf("DNS host %s gone", c.Servers[i]), 60)
		run("ip", "addr", "add", c.Servers[i]+"/32", "dev", "ctl")
		hosts[i] = start(i)
		time.Sleep(200 * time.Millisecond)
		ask(fmt.Sprintf("DNS host %s back", c.Servers[i]), 30)
	}
	// A DNS host that is back while its backend has not read the API yet: the backend answers SERVFAIL, which the
	// Corefile turns into REFUSED (TestDNSBackendRefusesUntilSynced), and the host's dnsmasq passes that on. The
	// cache must wait for another host's answer rather than hand the refusal to the pod. Answered SERVFAIL, as
	// without the rewrite, queries fail: the check can tell. The other hosts answer through a backend that takes
	// 150 ms, so that the refusal always comes first (with instant answers the race between them decides, and the
	// SERVFAIL case could pass by chance).
	slow := respond(t, ns, "127.0.0.1:10054", "SLOW")
	defer slow()
	for i := 1; i < len(hosts); i++ {
		hosts[i].Process.Kill()
		hosts[i].Wait()
		hosts[i] = hostVia(t, ns, filepath.Join(dir, fmt.Sprintf("host%d-slow.conf", i)), c.Servers[i], "127.0.0.1#10054")
	}
	unsynced := func(rcode string) {
		t.Helper()
		hosts[0].Process.Kill()
		hosts[0].Wait()
		defer respond(t, ns, "127.0.0.1:10053", rcode)()
		host := hostVia(t, ns, filepath.Join(dir, "host0-unsynced.conf"), c.Servers[0], "127.0.0.1#10053")
		defer func() { host.Process.Kill(); host.Wait() }()
		time.Sleep(300 * time.Millisecond)
		failed, _, first := askN(t, ns, c.ServiceIP+":53", 100)
		switch {
		case rcode == "REFUSED" && failed > 0:
			t.Errorf("DNS host %s refusing while its backend syncs: %d of 100 queries failed (first: %s)", c.Servers[0], failed, first)
		case rcode == "SERVFAIL" && failed == 0:
			t.Errorf("DNS host %s answering SERVFAIL: no query failed, so the REFUSED case above proves nothing", c.Servers[0])
		}
		t.Logf("DNS host %s answering %s for its backend: %d of 100 queries failed", c.Servers[0], rcode, failed)
	}
	unsynced("REFUSED")
	unsynced("SERVFAIL")

	cache.Process.Kill()
	cache.Wait()
	run(scriptPath, "down")
	if rules := run("iptables-save"); strings.Contains(rules, "berth-dns-cache") {
		t.Errorf("rules left after down:\n%s", rules)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDNSAskHelper$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("BERTH_DNS_ASK=%s:53,%d", c.ServiceIP, 3))
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "ASKED 3 ") {
		t.Errorf("the Service's address still answers after down (the DNAT to nowhere should apply again):\n%s", out)
	}
}

// respond starts TestDNSRespondHelper on address (address:port) in network namespace ns, answering how, and returns
// what stops it.
func respond(t *testing.T, ns, address, how string) func() {
	t.Helper()
	backend := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDNSRespondHelper$")
	backend.Env = append(os.Environ(), "BERTH_DNS_RESPOND="+address+","+how)
	if err := backend.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { backend.Process.Kill(); backend.Wait() }
}

// hostVia starts a DNS host's dnsmasq on address in network namespace ns, sending cluster.local to backend
// (address#port), with its configuration at conf; the caller stops it.
func hostVia(t *testing.T, ns, conf, address, backend string) *exec.Cmd {
	t.Helper()
	os.WriteFile(conf, []byte(fmt.Sprintf("port=53\nlisten-address=%s\nbind-interfaces\nno-resolv\nno-hosts\nserver=/cluster.local/%s\n", address, backend)), 0o644)
	host := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+conf, "--pid-file=", "--user=root")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })
	return host
}

// askN runs TestDNSAskHelper in network namespace ns against server (address:port), n times; it returns how many queries
// failed, the slowest answer and the first failure.
func askN(t *testing.T, ns, server string, n int) (failed int, slowest time.Duration, first string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDNSAskHelper$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("BERTH_DNS_ASK=%s,%d", server, n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the asking helper: %v\n%s", err, out)
	}
	if _, err := fmt.Sscanf(lastLine(string(out), "ASKED "), "ASKED %d %d %q", &failed, &slowest, &first); err != nil {
		t.Fatalf("asking helper output: %v\n%s", err, out)
	}
	return failed, slowest, first
}

// TestDNSRespondHelper is not a test: run inside a network namespace by TestDNSCacheLosesNoQuery
// (BERTH_DNS_RESPOND=address:port,HOW), it answers every query on UDP until it is killed: with HOW a response code
// (SERVFAIL, REFUSED) and no records, as a DNS backend does that cannot answer yet; with HOW=SLOW, 150 ms later,
// with kubernetes.default's address and a TTL of 0 (nothing cached), as a busy backend.
func TestDNSRespondHelper(t *testing.T) {
	spec := os.Getenv("BERTH_DNS_RESPOND")
	if spec == "" {
		t.Skip("a helper of TestDNSCacheLosesNoQuery")
	}
	addr, how, _ := strings.Cut(spec, ",")
	rcode, known := map[string]dnsmessage.RCode{"SERVFAIL": dnsmessage.RCodeServerFailure, "REFUSED": dnsmessage.RCodeRefused, "SLOW": dnsmessage.RCodeSuccess}[how]
	if !known {
		t.Fatalf("BERTH_DNS_RESPOND: unknown answer %q", how)
	}
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || len(q.Questions) == 0 {
			continue
		}
		r := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, RecursionDesired: q.RecursionDesired, RCode: rcode},
			Questions: q.Questions}
		if how == "SLOW" {
			r.Header.Authoritative = true
			r.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Questions[0].Name, Type: dnsmessage.TypeA,
				Class: dnsmessage.ClassINET, TTL: 0}, Body: &dnsmessage.AResource{A: [4]byte{10, 96, 0, 1}}}}
		}
		b, err := r.Pack()
		if err != nil {
			continue
		}
		if how == "SLOW" {
			go func() {
				time.Sleep(150 * time.Millisecond)
				conn.WriteTo(b, from)
			}()
			continue
		}
		conn.WriteTo(b, from)
	}
}

// TestDNSAskHelper is not a test: run inside a network namespace by TestDNSCacheLosesNoQuery (BERTH_DNS_ASK=
// server:port,count), it asks count times for kubernetes.default.svc.cluster.local, each from a new socket with a
// one-second timeout, as a new client would, and prints "ASKED <failed> <slowest ns> <first failure>".
func TestDNSAskHelper(t *testing.T) {
	spec := os.Getenv("BERTH_DNS_ASK")
	if spec == "" {
		t.Skip("a helper of TestDNSCacheLosesNoQuery")
	}
	server, count, _ := strings.Cut(spec, ",")
	var n int
	fmt.Sscan(count, &n)
	failed, slowest, first := 0, time.Duration(0), ""
	for i := range n {
		took, err := ask(server, i)
		if err != nil {
			if failed == 0 {
				first = err.Error()
			}
			failed++
		}
		slowest = max(slowest, took)
	}
	fmt.Printf("ASKED %d %d %q\n", failed, slowest, first)
}

func ask(server string, id int) (time.Duration, error) {
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: uint16(id), RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName("kubernetes.default.svc.cluster.local."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, _ := q.Pack()
	start := time.Now()
	c, err := net.Dial("udp", server)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(b); err != nil {
		return time.Since(start), err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	var a dnsmessage.Message
	if err := a.Unpack(buf[:n]); err != nil || len(a.Answers) == 0 {
		return took, fmt.Errorf("answer %v with %d records: %v", a.RCode, len(a.Answers), err)
	}
	if r, ok := a.Answers[0].Body.(*dnsmessage.AResource); !ok || net.IP(r.A[:]).String() != "10.96.0.1" {
		return took, fmt.Errorf("answer %v", a.Answers[0].Body)
	}
	return took, nil
}

func lastLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
