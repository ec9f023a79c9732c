// Command netcheck is a test tool of berth's end-to-end tests, built by the tests themselves and loaded into lab
// clusters as an image (an air-gapped cluster has nothing else to run): it serves and fetches HTTP between pods,
// and resolves names against a chosen DNS server.
//
//	netcheck serve :8080            answer GET / with the pod's hostname, GET /bytes/N with N zero bytes
//	netcheck get URL [SECONDS]      fetch URL, retrying for up to SECONDS (default 60); exit 1 on failure
//	netcheck fetch URL              fetch URL once, discard the body and print how many bytes it had
//	netcheck resolve NAME [SERVER]  resolve NAME (through SERVER, ip[:port], when given); print the addresses
//	netcheck probe FROM NAME TARGET...
//	                                try each TARGET once, from the local address FROM ("-" for any), 3 s each:
//	                                tcp:IP:PORT connects, dns:IP:PORT asks for NAME over UDP; prints one line per
//	                                target: the target, then open, answered, refused or timeout (or the error)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netcheck serve ADDR | get URL [SECONDS] | resolve NAME [SERVER]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "netcheck on %s\n", host) })
		http.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
			n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
			if err != nil || n < 0 || n > 1<<30 {
				http.Error(w, "want /bytes/N, N up to 1 GiB", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			io.CopyN(w, zeros{}, n)
		})
		fmt.Println("serving on", os.Args[2])
		if err := http.ListenAndServe(os.Args[2], nil); err != nil {
			fail(err)
		}
	case "get":
		wait := 60
		if len(os.Args) > 3 {
			wait, _ = strconv.Atoi(os.Args[3])
		}
		deadline := time.Now().Add(time.Duration(wait) * time.Second)
		cl := &http.Client{Timeout: 3 * time.Second}
		for {
			resp, err := cl.Get(os.Args[2])
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				fmt.Print(string(body))
				return
			}
			if time.Now().After(deadline) {
				fail(err)
			}
			time.Sleep(time.Second)
		}
	case "fetch":
		resp, err := (&http.Client{Timeout: 5 * time.Minute}).Get(os.Args[2])
		if err != nil {
			fail(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fail(fmt.Errorf("%s after %d bytes: %v", resp.Status, n, err))
		}
		fmt.Println(n)
	case "resolve":
		r := net.DefaultResolver
		if len(os.Args) > 3 {
			server := os.Args[3]
			if _, _, err := net.SplitHostPort(server); err != nil {
				server = net.JoinHostPort(server, "53")
			}
			r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "udp", server)
			}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, os.Args[2])
		if err != nil {
			fail(err)
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "probe":
		if len(os.Args) < 5 {
			fail(fmt.Errorf("usage: netcheck probe FROM NAME TARGET..."))
		}
		for _, target := range os.Args[4:] {
			fmt.Println(target, probe(os.Args[2], os.Args[3], target))
		}
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

// probe tries one target from the local address from and says what happened.
func probe(from, name, target string) string {
	kind, addr, _ := strings.Cut(target, ":")
	d := &net.Dialer{Timeout: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var err error
	switch kind {
	case "tcp":
		if from != "-" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		}
		var c net.Conn
		if c, err = d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return "open"
		}
	case "dns":
		if from != "-" {
			d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(from)}
		}
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "udp", addr)
		}}
		var addrs []string
		if addrs, err = r.LookupHost(ctx, name); err == nil {
			return "answered " + strings.Join(addrs, ",")
		}
	default:
		return "error: unknown kind " + kind
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "error: " + strings.ReplaceAll(err.Error(), " ", "_")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netcheck:", err)
	os.Exit(1)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
