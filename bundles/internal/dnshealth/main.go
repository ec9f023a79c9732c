// Command dnshealth is the health sidecar of berth's cluster DNS pods (the kube-dns "healthz" container of the
// reference design). It asks each DNS server of its host for one cluster name, over UDP as pods do, every
// interval, and serves what it learned over HTTP on the loopback for the kubelet's probes and for people:
//
//	GET /healthz         200 while the sidecar runs (its own liveness)
//	GET /readyz          200 when every server's last answer was correct (NOERROR with the expected address)
//	GET /readyz/NAME     the same for one server
//	GET /livez/NAME      200 unless the server has not answered at all (any response code) for -stale
//	GET /status          every server's last result, as JSON
//
// Readiness decides whether the kube-dns Service sends queries to this host; liveness restarts a server that has
// stopped answering, but not one that answers with an error because the API is unreachable.
//
//	dnshealth --listen=127.0.0.1:10054 --name=kubernetes.default.svc.cluster.local --expect=10.96.0.1 \
//	  --check=dnsmasq=10.20.0.11:53 --check=backend=127.0.0.1:10053
//
// As the DNS pod's init container, --wait-free=ADDRESS:PORT waits until nothing accepts TCP connections on the
// address (the host's own dnsmasq, stopped by berth when the cluster changes to the management variant) and exits,
// so that the pod's dnsmasq starts on a free port instead of failing and waiting out a restart back-off.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// checkFlags collects repeated --check=NAME=ADDR:PORT flags.
type checkFlags []check

type check struct{ Name, Server string }

func (c *checkFlags) String() string { return fmt.Sprint(*c) }

func (c *checkFlags) Set(v string) error {
	name, server, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: write NAME=ADDRESS:PORT", v)
	}
	if _, err := netip.ParseAddrPort(server); err != nil {
		return fmt.Errorf("%q: %w", v, err)
	}
	*c = append(*c, check{name, server})
	return nil
}

// result is what one server answered last.
type result struct {
	Server       string    `json:"server"`
	Ready        bool      `json:"ready"`
	Detail       string    `json:"detail"`
	Checked      time.Time `json:"checked"`
	LastAnswered time.Time `json:"lastAnswered"` // last response of any kind
	LastReady    time.Time `json:"lastReady,omitempty"`
}

type health struct {
	name     string
	expect   netip.Addr // zero: any address will do
	interval time.Duration
	timeout  time.Duration
	stale    time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	results map[string]*result
}

func main() {
	var checks checkFlags
	listen := flag.String("listen", "127.0.0.1:10054", "address of the HTTP endpoint")
	name := flag.String("name", "kubernetes.default.svc.cluster.local", "name to ask every server for")
	expect := flag.String("expect", "", "address the name must resolve to (empty: any)")
	interval := flag.Duration("interval", time.Second, "time between probes")
	timeout := flag.Duration("timeout", time.Second, "time a server has to answer")
	stale := flag.Duration("stale", 30*time.Second, "silence after which a server is no longer alive")
	flag.Var(&checks, "check", "NAME=ADDRESS:PORT of a DNS server to probe (repeat)")
	waitFree := flag.String("wait-free", "", "wait until nothing listens on this TCP ADDRESS:PORT, then exit")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *waitFree != "" {
		waitUntilFree(*waitFree, log)
		return
	}
	if len(checks) == 0 {
		log.Error("no --check given")
		os.Exit(2)
	}
	h := &health{name: *name, interval: *interval, timeout: *timeout, stale: *stale, log: log, results: map[string]*result{}}
	if *expect != "" {
		a, err := netip.ParseAddr(*expect)
		if err != nil {
			log.Error("bad --expect", "err", err)
			os.Exit(2)
		}
		h.expect = a
	}
	now := time.Now()
	for _, c := range checks {
		// A server counts as alive from the start: liveness must not kill it before it had a chance to answer.
		h.results[c.Name] = &result{Server: c.Server, Detail: "not probed yet", LastAnswered: now}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for _, c := range checks {
		go h.loop(ctx, c)
	}
	srv := &http.Server{Addr: *listen, Handler: h.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Info("serving", "listen", *listen, "name", *name, "checks", checks.String())
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// loop probes one server every interval until ctx ends.
func (h *health) loop(ctx context.Context, c check) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.probe(ctx, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *health) probe(ctx context.Context, c check) {
	pctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	a, err := ask(pctx, c.Server, h.name)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.results[c.Name]
	was := r.Ready
	r.Checked = now
	switch {
	case err != nil:
		r.Ready, r.Detail = false, err.Error()
	case a.rcode != dnsmessage.RCodeSuccess || len(a.addrs) == 0:
		r.Ready, r.Detail, r.LastAnswered = false, fmt.Sprintf("%s answered %s", h.name, a), now
	case h.expect.IsValid() && !slices.Contains(a.addrs, h.expect):
		r.Ready, r.Detail, r.LastAnswered = false, fmt.Sprintf("%s answered %s, not %s", h.name, a, h.expect), now
	default:
		r.Ready, r.Detail, r.LastAnswered, r.LastReady = true, fmt.Sprintf("%s in %s", a, a.rtt.Round(time.Microsecond)), now, now
	}
	if r.Ready != was {
		h.log.Info("server changed", "check", c.Name, "server", c.Server, "ready", r.Ready, "detail", r.Detail)
	}
}

func (h *health) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { h.answer(w, "", false) })
	mux.HandleFunc("GET /readyz/{check}", func(w http.ResponseWriter, r *http.Request) { h.answer(w, r.PathValue("check"), false) })
	mux.HandleFunc("GET /livez/{check}", func(w http.ResponseWriter, r *http.Request) { h.answer(w, r.PathValue("check"), true) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(h.results)
	})
	return mux
}

// answer writes one line per selected check and 200 when all pass, 503 otherwise.
func (h *health) answer(w http.ResponseWriter, only string, live bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if only != "" && h.results[only] == nil {
		http.Error(w, "no check named "+only, http.StatusNotFound)
		return
	}
	var b strings.Builder
	ok := true
	names := make([]string, 0, len(h.results))
	for name := range h.results {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := h.results[name]
		if only != "" && name != only {
			continue
		}
		pass := r.Ready
		if live {
			pass = time.Since(r.LastAnswered) < h.stale
		}
		ok = ok && pass
		fmt.Fprintf(&b, "%s %s: %v (%s)\n", name, r.Server, pass, r.Detail)
	}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, b.String())
}

// waitUntilFree returns once a TCP connection to addr is refused: nothing listens there any more.
func waitUntilFree(addr string, log *slog.Logger) {
	start := time.Now()
	for n := 0; ; n++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
			log.Info("port free", "address", addr, "waited", time.Since(start).Round(time.Millisecond))
			return
		}
		if c != nil {
			c.Close()
		}
		if n%20 == 0 {
			log.Info("waiting: something else listens", "address", addr, "err", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
