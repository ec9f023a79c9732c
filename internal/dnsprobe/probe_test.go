package dnsprobe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// reply builds the answer to query: the given rcode, an A record for every address, a PTR for every name.
func reply(t *testing.T, query []byte, rcode dnsmessage.RCode, truncated bool, addrs []string, names []string) []byte {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Question()
	if err != nil {
		t.Fatal(err)
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: rcode, Truncated: truncated})
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
	for _, a := range addrs {
		b.AResource(rh, dnsmessage.AResource{A: netip.MustParseAddr(a).As4()})
	}
	for _, n := range names {
		b.PTRResource(rh, dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(n)})
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// udpServer answers each datagram with answer(query); stale first sends a response with another ID.
func udpServer(t *testing.T, stale bool, answer func([]byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			resp := answer(append([]byte(nil), buf[:n]...))
			if stale {
				old := append([]byte(nil), resp...)
				binary.BigEndian.PutUint16(old, binary.BigEndian.Uint16(old)+1)
				pc.WriteTo(old, addr)
			}
			pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

// tcpServer answers framed questions on each connection.
func tcpServer(t *testing.T, answer func([]byte) []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n [2]byte
				if _, err := io.ReadFull(c, n[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(n[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				resp := answer(q)
				binary.BigEndian.PutUint16(n[:], uint16(len(resp)))
				c.Write(append(n[:], resp...))
			}()
		}
	}()
	return l.Addr().String()
}

func TestAsk(t *testing.T) {
	ctx := context.Background()
	ok := func(q []byte) []byte {
		return reply(t, q, dnsmessage.RCodeSuccess, false, []string{"10.96.0.1", "10.96.0.2"}, nil)
	}
	tests := []struct {
		name    string
		network string
		server  string
		qtype   dnsmessage.Type
		want    string
		wantErr error
	}{
		{"udp", "udp", udpServer(t, false, ok), dnsmessage.TypeA, "Success 10.96.0.1,10.96.0.2", nil},
		{"udp skips a stale answer", "udp", udpServer(t, true, ok), dnsmessage.TypeA, "Success 10.96.0.1,10.96.0.2", nil},
		{"tcp", "tcp", tcpServer(t, ok), dnsmessage.TypeA, "Success 10.96.0.1,10.96.0.2", nil},
		{"nxdomain", "udp", udpServer(t, false, func(q []byte) []byte {
			return reply(t, q, dnsmessage.RCodeNameError, false, nil, nil)
		}), dnsmessage.TypeA, "NameError", nil},
		{"ptr", "tcp", tcpServer(t, func(q []byte) []byte {
			return reply(t, q, dnsmessage.RCodeSuccess, false, nil, []string{"kubernetes.default.svc.cluster.local."})
		}), dnsmessage.TypePTR, "Success kubernetes.default.svc.cluster.local.", nil},
		{"truncated", "udp", udpServer(t, false, func(q []byte) []byte {
			return reply(t, q, dnsmessage.RCodeSuccess, true, nil, nil)
		}), dnsmessage.TypeA, "", ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Ask(ctx, nil, tt.network, tt.server, "kubernetes.default.svc.cluster.local", tt.qtype)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || a.String() != tt.want {
				t.Fatalf("answer = %q, %v; want %q", a, err, tt.want)
			}
		})
	}
}

func TestAskTimesOutWithTheContext(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Ask(ctx, nil, "udp", pc.LocalAddr().String(), "x.cluster.local", dnsmessage.TypeA)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %s, want a timeout near 200ms", err, time.Since(start))
	}
}

// pipeConn is a stream connection without deadlines, like an SSH channel.
type pipeConn struct{ net.Conn }

func (pipeConn) SetDeadline(time.Time) error { return errors.New("deadline not supported") }

func TestQueryClosesAConnWithoutDeadlines(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Query(ctx, pipeConn{client}, "x.cluster.local", dnsmessage.TypeA)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestReverseName(t *testing.T) {
	if got := ReverseName(netip.MustParseAddr("10.96.0.1")); got != "1.0.96.10.in-addr.arpa" {
		t.Errorf("ReverseName = %s", got)
	}
}

// TestAgainstDnsmasq asks a real dnsmasq over UDP and TCP.
func TestAgainstDnsmasq(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsmasq; skipped under -short")
	}
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dnsmasq is not installed (make deps installs it)")
		}
		t.Skip("dnsmasq is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--keep-in-foreground", "--pid-file=", "--user=root", "--group=", "--bind-interfaces",
		"--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--no-resolv", "--no-hosts",
		"--address=/svc.example/10.96.0.1", "--ptr-record=1.0.96.10.in-addr.arpa,kubernetes.svc.example")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	server := fmt.Sprintf("127.0.0.1:%d", port)
	for _, network := range []string{"udp", "tcp"} {
		var a Answer
		deadline := time.Now().Add(5 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			a, err = Ask(ctx, nil, network, server, "kubernetes.svc.example", dnsmessage.TypeA)
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || !a.Has(netip.MustParseAddr("10.96.0.1")) {
			t.Errorf("%s: A = %v, %v", network, a, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a, err = Ask(ctx, nil, network, server, "1.0.96.10.in-addr.arpa", dnsmessage.TypePTR)
		cancel()
		if err != nil || !strings.Contains(a.String(), "kubernetes.svc.example.") {
			t.Errorf("%s: PTR = %v, %v", network, a, err)
		}
	}
}
