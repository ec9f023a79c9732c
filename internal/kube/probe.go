package kube

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ProbeTimeout bounds one probe of an API server.
const ProbeTimeout = 5 * time.Second

// ProbeAPI asks the API server at endpoint (host:port) whether it is ready (GET /readyz), dialling through dial
// (a tunnel's, or nil to dial directly). It checks liveness only: the server's certificate is not verified and
// no credentials are sent, which the API allows for /readyz.
func ProbeAPI(ctx context.Context, endpoint string, dial DialFunc) error {
	tr := &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // liveness probe only; no credentials are sent
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: ProbeTimeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+endpoint+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", endpoint, err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("probe %s: /readyz answered %s: %s", endpoint, resp.Status, readyzFailures(string(body)))
	}
	return nil
}

// APIReady is done when the API server at endpoint answers /readyz with 200 (see ProbeAPI). An API server that
// does not answer yet, or answers that it is not ready, is waited for.
func APIReady(endpoint string, dial DialFunc) Condition {
	return func(ctx context.Context) (bool, string, error) {
		if err := ProbeAPI(ctx, endpoint, dial); err != nil {
			return false, err.Error(), nil
		}
		return true, "API server " + endpoint + " is ready", nil
	}
}

// readyzFailures picks the failed checks ("[-]etcd failed: reason withheld") out of a verbose /readyz answer,
// or returns its first line.
func readyzFailures(body string) string {
	var failed []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, strings.TrimPrefix(line, "[-]"))
		}
	}
	if len(failed) > 0 {
		return listSome(failed)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	return line
}
