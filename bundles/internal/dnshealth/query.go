package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// answer is a server's response to an A question. (The sidecar is built into its own image from this directory
// alone, so it carries its own small DNS client instead of importing berth's.)
type answer struct {
	rcode dnsmessage.RCode
	addrs []netip.Addr
	rtt   time.Duration
}

func (a answer) String() string {
	s := strings.TrimPrefix(a.rcode.String(), "RCode")
	for i, x := range a.addrs {
		if i == 0 {
			s += " "
		} else {
			s += ","
		}
		s += x.String()
	}
	return s
}

// ask sends one A question for name to server over UDP and waits for its answer until ctx ends.
func ask(ctx context.Context, server, name string) (answer, error) {
	n, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + ".")
	if err != nil {
		return answer{}, err
	}
	id := uint16(rand.Uint32())
	msg, err := (&dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}).Pack()
	if err != nil {
		return answer{}, err
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "udp", server)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	start := time.Now()
	if _, err := conn.Write(msg); err != nil {
		return answer{}, err
	}
	buf := make([]byte, 1500)
	for {
		k, err := conn.Read(buf)
		if err != nil {
			return answer{}, fmt.Errorf("no answer from %s: %w", server, err)
		}
		if k >= 2 && binary.BigEndian.Uint16(buf) == id {
			a, err := parse(buf[:k])
			a.rtt = time.Since(start)
			return a, err
		}
	}
}

func parse(b []byte) (answer, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return answer{}, err
	}
	a := answer{rcode: h.RCode}
	if err := p.SkipAllQuestions(); err != nil {
		return a, err
	}
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			return a, nil
		}
		if err != nil {
			return a, err
		}
		if rh.Type != dnsmessage.TypeA {
			if err := p.SkipAnswer(); err != nil {
				return a, err
			}
			continue
		}
		r, err := p.AResource()
		if err != nil {
			return a, err
		}
		a.addrs = append(a.addrs, netip.AddrFrom4(r.A))
	}
}
