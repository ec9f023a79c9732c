package dnsprobe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Answer is what a server answered to one question.
type Answer struct {
	RCode dnsmessage.RCode
	Addrs []netip.Addr // A and AAAA records of the answer section
	Names []string     // PTR and CNAME targets of the answer section
	RTT   time.Duration
}

// OK reports whether the server answered NOERROR with at least one record.
func (a Answer) OK() bool {
	return a.RCode == dnsmessage.RCodeSuccess && (len(a.Addrs) > 0 || len(a.Names) > 0)
}

// Has reports whether the answer holds addr.
func (a Answer) Has(addr netip.Addr) bool {
	for _, x := range a.Addrs {
		if x == addr {
			return true
		}
	}
	return false
}

func (a Answer) String() string {
	var parts []string
	for _, x := range a.Addrs {
		parts = append(parts, x.String())
	}
	parts = append(parts, a.Names...)
	rc := strings.TrimPrefix(a.RCode.String(), "RCode")
	if len(parts) == 0 {
		return rc
	}
	return rc + " " + strings.Join(parts, ",")
}

// DialFunc opens a connection, like net.Dialer.DialContext or remote.Executor.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Ask dials server (ip:port) over network ("udp" or "tcp") with dial (nil: a plain net.Dialer) and asks one
// question.
func Ask(ctx context.Context, dial DialFunc, network, server, name string, qtype dnsmessage.Type) (Answer, error) {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, network, server)
	if err != nil {
		return Answer{}, fmt.Errorf("dial %s %s: %w", network, server, err)
	}
	defer conn.Close()
	a, err := Query(ctx, conn, name, qtype)
	if err != nil {
		return a, fmt.Errorf("ask %s %s for %s: %w", network, server, name, err)
	}
	return a, nil
}

// Query sends one question over conn and waits for its answer until ctx ends. A net.PacketConn (UDP) carries bare
// messages, anything else (TCP, an SSH channel) carries them with the two-byte length prefix of RFC 1035 4.2.2.
// When conn cannot take deadlines (SSH channels), it is closed if ctx ends first.
func Query(ctx context.Context, conn net.Conn, name string, qtype dnsmessage.Type) (Answer, error) {
	id := uint16(rand.Uint32())
	msg, err := NewQuery(id, name, qtype)
	if err != nil {
		return Answer{}, err
	}
	if dl, ok := ctx.Deadline(); !ok || conn.SetDeadline(dl) != nil {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
	}
	start := time.Now()
	_, datagram := conn.(net.PacketConn)
	var resp []byte
	if datagram {
		resp, err = exchangeDatagram(conn, msg, id)
	} else {
		resp, err = exchangeStream(conn, msg)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Answer{}, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return Answer{}, err
	}
	a, err := Parse(resp, id)
	a.RTT = time.Since(start)
	return a, err
}

// NewQuery builds a query message for name (made absolute) with recursion desired.
func NewQuery(id uint16, name string, qtype dnsmessage.Type) ([]byte, error) {
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, fmt.Errorf("name %q: %w", name, err)
	}
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: qtype, Class: dnsmessage.ClassINET}},
	}
	return m.Pack()
}

func exchangeDatagram(conn net.Conn, msg []byte, id uint16) ([]byte, error) {
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		// A late answer to an earlier question on the same socket is not ours: keep reading.
		if n >= 2 && binary.BigEndian.Uint16(buf) == id {
			return buf[:n], nil
		}
	}
}

func exchangeStream(conn net.Conn, msg []byte) ([]byte, error) {
	framed := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(framed, uint16(len(msg)))
	copy(framed[2:], msg)
	if _, err := conn.Write(framed); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// ErrTruncated means the server set the TC bit: the answer did not fit a datagram.
var ErrTruncated = errors.New("answer truncated (ask over TCP)")

// Parse reads a response to the question with this id.
func Parse(resp []byte, id uint16) (Answer, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return Answer{}, fmt.Errorf("parse answer: %w", err)
	}
	if h.ID != id || !h.Response {
		return Answer{}, fmt.Errorf("parse answer: not a response to question %d", id)
	}
	a := Answer{RCode: h.RCode}
	if h.Truncated {
		return a, ErrTruncated
	}
	if err := p.SkipAllQuestions(); err != nil {
		return a, fmt.Errorf("parse answer: %w", err)
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return a, nil
		}
		if err != nil {
			return a, fmt.Errorf("parse answer: %w", err)
		}
		switch rh.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return a, fmt.Errorf("parse answer: %w", err)
			}
			a.Addrs = append(a.Addrs, netip.AddrFrom4(r.A))
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return a, fmt.Errorf("parse answer: %w", err)
			}
			a.Addrs = append(a.Addrs, netip.AddrFrom16(r.AAAA))
		case dnsmessage.TypePTR:
			r, err := p.PTRResource()
			if err != nil {
				return a, fmt.Errorf("parse answer: %w", err)
			}
			a.Names = append(a.Names, r.PTR.String())
		case dnsmessage.TypeCNAME:
			r, err := p.CNAMEResource()
			if err != nil {
				return a, fmt.Errorf("parse answer: %w", err)
			}
			a.Names = append(a.Names, r.CNAME.String())
		default:
			if err := p.SkipAnswer(); err != nil {
				return a, fmt.Errorf("parse answer: %w", err)
			}
		}
	}
}

// ReverseName returns the in-addr.arpa name of an IPv4 address ("10.96.0.1" -> "1.0.96.10.in-addr.arpa").
func ReverseName(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", b[3], b[2], b[1], b[0])
}
