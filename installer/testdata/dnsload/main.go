// Command dnsload is the DNS load generator and failover watcher of berth's DNS benchmarks and end-to-end tests.
// It runs on a lab host, because cluster DNS answers on addresses only the cluster's hosts reach.
//
//	dnsload bench SERVER NAME [-duration 10s] [-concurrency 16] [-unique] [-label L]
//	    closed-loop UDP queries; prints one JSON line: queries, errors, queries/s, p50/p99/max latency (ms),
//	    or with -label one table row: label, queries/s, p50, p99, errors.
//	    -unique asks a different name under NAME's parent each time (q<N>.<parent>), so no cache can answer.
//	dnsload watch SERVER NAME [-duration 120s] [-interval 100ms] [-timeout 1s]
//	    one query every interval, each from a new socket (a new source port, so the kube-dns Service picks an
//	    endpoint afresh, as for a new client); prints "<unix ms> ok|fail <detail>" per query.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/berthsh/berth/internal/dnsprobe"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: dnsload bench|watch SERVER NAME [flags]")
		os.Exit(2)
	}
	mode, server, name := os.Args[1], os.Args[2], os.Args[3]
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	concurrency := fs.Int("concurrency", 16, "queries in flight (bench)")
	unique := fs.Bool("unique", false, "a new name for every query (bench)")
	interval := fs.Duration("interval", 100*time.Millisecond, "time between queries (watch)")
	timeout := fs.Duration("timeout", time.Second, "time a query may take")
	label := fs.String("label", "", "print a table row with this label instead of JSON (bench)")
	fs.Parse(os.Args[4:])
	var err error
	switch mode {
	case "bench":
		err = bench(server, name, *duration, *concurrency, *unique, *timeout, *label)
	case "watch":
		err = watch(server, name, *duration, *interval, *timeout)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsload:", err)
		os.Exit(1)
	}
}

// result is one bench run.
type result struct {
	Server      string  `json:"server"`
	Name        string  `json:"name"`
	Unique      bool    `json:"unique"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Queries     int     `json:"queries"`
	Errors      int     `json:"errors"`
	QPS         float64 `json:"qps"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	FirstError  string  `json:"first_error,omitempty"`
}

func bench(server, name string, d time.Duration, conc int, unique bool, timeout time.Duration, label string) error {
	parent := name
	if _, p, ok := strings.Cut(name, "."); ok {
		parent = p
	}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	firstErr := ""
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", server)
			if err != nil {
				mu.Lock()
				errs++
				firstErr = err.Error()
				mu.Unlock()
				return
			}
			defer conn.Close()
			var mine []time.Duration
			myErrs := 0
			var myFirst string
			for ctx.Err() == nil {
				q := name
				if unique {
					q = fmt.Sprintf("q%d-%d.%s", seq.Add(1), rand.Uint32(), parent)
				}
				qctx, qcancel := context.WithTimeout(context.Background(), timeout)
				a, err := dnsprobe.Query(qctx, conn, q, dnsmessage.TypeA)
				qcancel()
				switch {
				case err != nil:
					myErrs++
					if myFirst == "" {
						myFirst = err.Error()
					}
				case !unique && !a.OK():
					myErrs++
					if myFirst == "" {
						myFirst = "answer " + a.String()
					}
				default:
					mine = append(mine, a.RTT)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += myErrs
			if firstErr == "" {
				firstErr = myFirst
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if len(lat) == 0 {
		return fmt.Errorf("no query to %s answered: %s", server, firstErr)
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		i := int(q * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	r := result{Server: server, Name: name, Unique: unique, Concurrency: conc, Seconds: secs, Queries: len(lat) + errs,
		Errors: errs, QPS: float64(len(lat)) / secs, P50: ms(0.50), P99: ms(0.99), Max: ms(1), FirstError: firstErr}
	if label != "" {
		_, err := fmt.Printf("%-44s %10.0f %9.2f %9.2f %7d\n", label, r.QPS, r.P50, r.P99, r.Errors)
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func watch(server, name string, d, interval, timeout time.Duration) error {
	end := time.Now().Add(d)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	out := make(chan string, 1024)
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for line := range out {
			fmt.Println(line)
		}
		close(done)
	}()
	for time.Now().Before(end) {
		sent := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			a, err := dnsprobe.Ask(ctx, nil, "udp", server, name, dnsmessage.TypeA)
			switch {
			case err != nil && errors.Is(err, context.DeadlineExceeded):
				out <- fmt.Sprintf("%d fail timeout", sent.UnixMilli())
			case err != nil:
				out <- fmt.Sprintf("%d fail %v", sent.UnixMilli(), err)
			case !a.OK():
				out <- fmt.Sprintf("%d fail %s", sent.UnixMilli(), a)
			default:
				out <- fmt.Sprintf("%d ok %s", sent.UnixMilli(), a.RTT.Round(time.Microsecond))
			}
		}()
		<-tick.C
	}
	wg.Wait()
	close(out)
	<-done
	return nil
}
