package phase

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// HostError is the error of one host.
type HostError struct {
	Host string
	Err  error
}

func (e HostError) Error() string { return e.Host + ": " + e.Err.Error() }

// Unwrap returns the host's error.
func (e HostError) Unwrap() error { return e.Err }

// HostErrors collects the errors of every host that failed, in the order the hosts were given.
type HostErrors []HostError

func (e HostErrors) Error() string {
	var b strings.Builder
	n := len(e)
	if n == 1 {
		b.WriteString("failed on 1 host:")
	} else {
		fmt.Fprintf(&b, "failed on %d hosts:", n)
	}
	for _, he := range e {
		fmt.Fprintf(&b, "\n - %s: %s", he.Host, strings.ReplaceAll(he.Err.Error(), "\n", "\n   "))
	}
	return b.String()
}

// Unwrap returns the hosts' errors, so errors.Is and errors.As see each of them.
func (e HostErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, he := range e {
		out[i] = he
	}
	return out
}

// Hosts lists the hosts that failed.
func (e HostErrors) Hosts() []string {
	out := make([]string, len(e))
	for i, he := range e {
		out[i] = he.Host
	}
	return out
}

// ParallelEach calls fn for every item with at most limit calls running at once (limit <= 0: all at once). Every
// item runs even when others fail; the result is nil or HostErrors naming each failed item by key. Once ctx is
// done, items not yet started fail with the context's error instead of running.
func ParallelEach[T any](ctx context.Context, limit int, items []T, key func(T) string, fn func(context.Context, T) error) error {
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	errs := make([]error, len(items))
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = fmt.Errorf("not started: %w", context.Cause(ctx))
			continue
		}
		if ctx.Err() != nil {
			<-sem
			errs[i] = fmt.Errorf("not started: %w", context.Cause(ctx))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, it)
		}()
	}
	wg.Wait()
	var out HostErrors
	for i, err := range errs {
		if err != nil {
			out = append(out, HostError{Host: key(items[i]), Err: err})
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
