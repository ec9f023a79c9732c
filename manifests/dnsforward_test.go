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

// TestDNSForwardsDomainsToTheirResolvers runs the dnsmasq configuration berth writes on a DNS host for real, in a
// network namespace of its own, with three more dnsmasq instances around it: the bank's resolver of
// corp.bank.internal (dns.forward), the bank's general resolver (dns.upstreams, which would answer corp names
// otherwise) and the cluster's backend on 127.0.0.1:10053. Each name must be answered by the server the inventory
// sends it to: the forwarded domain and its subdomains by its own resolver, not by the upstream.
func TestDNSForwardsDomainsToTheirResolvers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsmasq in a network namespace")
	}
	for _, tool := range []string{"ip", "dnsmasq"} {
		requireTool(t, tool)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for a network namespace")
		}
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("berth-dnsfwd-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "set", "lo", "up")
	run("ip", "link", "add", "net", "type", "bridge") // one segment for the DNS host and the bank's resolvers
	run("ip", "link", "set", "net", "up")
	const (
		dnsHost  = "10.20.0.11"  // the DNS host's control-plane address, where berth's dnsmasq listens
		corpDNS  = "10.1.10.10"  // the bank's resolver of corp.bank.internal
		upstream = "10.10.0.53"  // the bank's general resolver
		corpIP   = "10.1.10.99"  // what the corp resolver answers
		wrongIP  = "10.66.66.66" // what the general resolver answers for corp names
	)
	for _, a := range []string{dnsHost, corpDNS, upstream} {
		run("ip", "addr", "add", a+"/32", "dev", "net")
	}
	dir := t.TempDir()
	start := func(name, conf string) {
		t.Helper()
		p := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+p, "--pid-file=", "--user=root")
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("dnsmasq %s:\n%s", name, out)
			}
		})
	}
	server := func(listen, port string, answers ...string) string {
		s := "port=" + port + "\nlisten-address=" + listen + "\nbind-interfaces\nno-resolv\nno-hosts\n"
		for _, a := range answers {
			s += "address=" + a + "\n"
		}
		return s
	}
	start("corp", server(corpDNS, "53", "/corp.bank.internal/"+corpIP))
	start("upstream", server(upstream, "53", "/corp.bank.internal/"+wrongIP, "/example.org/10.2.2.2"))
	start("backend", server("127.0.0.1", "10053", "/kubernetes.default.svc.cluster.local/10.96.0.1"))

	v := testDNSValues(DNSUser)
	v.Upstreams = []string{upstream}
	v.Forward = []DNSForward{{Domain: "corp.bank.internal", Servers: []string{corpDNS}}}
	r, err := RenderDNS(v)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := DNSHostConf(r, dnsHost)
	if err != nil {
		t.Fatal(err)
	}
	start("berth", string(conf))
	time.Sleep(300 * time.Millisecond)

	names := map[string]string{
		"db.corp.bank.internal":                corpIP,      // the forwarded domain
		"a.b.db.corp.bank.internal":            corpIP,      // and its subdomains
		"corp.bank.internal":                   corpIP,      // and the domain itself
		"www.example.org":                      "10.2.2.2",  // everything else goes upstream
		"kubernetes.default.svc.cluster.local": "10.96.0.1", // the cluster domain goes to the backend
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDNSResolveHelper$")
	cmd.Env = append(os.Environ(), "BERTH_DNS_RESOLVE="+dnsHost+":53,"+strings.Join(list, ","))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the resolving helper: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "RESOLVED" {
			got[f[1]] = f[2]
		}
	}
	for name, want := range names {
		if got[name] != want {
			t.Errorf("%s resolved to %q through the DNS host, want %s", name, got[name], want)
		}
	}
}

// TestDNSResolveHelper is not a test: run inside a network namespace by TestDNSForwardsDomainsToTheirResolvers
// (BERTH_DNS_RESOLVE=server:port,name,name...), it asks the server for each name's A record and prints
// "RESOLVED <name> <address or error>".
func TestDNSResolveHelper(t *testing.T) {
	spec := os.Getenv("BERTH_DNS_RESOLVE")
	if spec == "" {
		t.Skip("a helper of TestDNSForwardsDomainsToTheirResolvers")
	}
	parts := strings.Split(spec, ",")
	for i, name := range parts[1:] {
		a, err := resolveA(parts[0], name, uint16(i))
		if err != nil {
			a = strings.ReplaceAll(err.Error(), " ", "_")
		}
		fmt.Printf("RESOLVED %s %s\n", name, a)
	}
}

// resolveA asks server (host:port) over UDP for the A record of name, waiting at most a second.
func resolveA(server, name string, id uint16) (string, error) {
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	if err != nil {
		return "", err
	}
	c, err := net.Dial("udp", server)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(b); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	var a dnsmessage.Message
	if err := a.Unpack(buf[:n]); err != nil {
		return "", err
	}
	for _, ans := range a.Answers {
		if r, ok := ans.Body.(*dnsmessage.AResource); ok {
			return net.IP(r.A[:]).String(), nil
		}
	}
	return "", fmt.Errorf("no A record (%v)", a.RCode)
}
