package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Status is the verdict of one check.
type Status string

// Verdicts.
const (
	OK   Status = "ok"
	Warn Status = "warn" // install copes or fixes it, but someone should know
	Fail Status = "fail" // install would fail or build a broken cluster
)

// Result is one check on one host ("" for the cluster as a whole).
type Result struct {
	Host   string `json:"host"`
	Check  string `json:"check"` // "nic/storage", "ports", "kernel/br_netfilter"
	Status Status `json:"status"`
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // what to do about a warning or failure
}

// Report is every result of a preflight run, with the facts they came from.
type Report struct {
	Results []Result `json:"results"`
	Facts   []*Facts `json:"facts"`
	Summary Summary  `json:"summary"`
	Hosts   []string `json:"hosts"`
	order   map[string]int
}

// Summary counts results by status.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// Failures returns the failed results.
func (r *Report) Failures() []Result { return r.filter(Fail) }

func (r *Report) filter(s Status) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == s {
			out = append(out, res)
		}
	}
	return out
}

// Find returns the results of one host and check (prefix match on the check name).
func (r *Report) Find(host, check string) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Host == host && (res.Check == check || strings.HasPrefix(res.Check, check+"/")) {
			out = append(out, res)
		}
	}
	return out
}

func (r *Report) add(res ...Result) {
	r.Results = append(r.Results, res...)
}

// finish sorts results by host order (cluster-wide first), then failures first, and counts them.
func (r *Report) finish() {
	rank := map[Status]int{Fail: 0, Warn: 1, OK: 2}
	slices.SortStableFunc(r.Results, func(a, b Result) int {
		if d := r.order[a.Host] - r.order[b.Host]; d != 0 {
			return d
		}
		return rank[a.Status] - rank[b.Status]
	})
	r.Summary = Summary{}
	for _, res := range r.Results {
		switch res.Status {
		case OK:
			r.Summary.OK++
		case Warn:
			r.Summary.Warn++
		case Fail:
			r.Summary.Fail++
		}
	}
}

// WriteTable prints one table: every failure and warning with its fix, and with all, the passed checks too.
func (r *Report) WriteTable(w io.Writer, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCHECK\tSTATUS\tDETAIL\tFIX")
	for _, res := range r.Results {
		if res.Status == OK && !all {
			continue
		}
		host := res.Host
		if host == "" {
			host = "(cluster)"
		}
		status := strings.ToUpper(string(res.Status))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", host, res.Check, status, oneLine(res.Detail), oneLine(res.Fix))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "passed"
	if r.Failed() {
		verdict = "FAILED"
	}
	hosts := fmt.Sprintf("%d hosts", len(r.Hosts))
	if len(r.Hosts) == 1 {
		hosts = "1 host"
	}
	_, err := fmt.Fprintf(w, "\npreflight %s on %s: %d failed, %d warnings, %d passed\n",
		verdict, hosts, r.Summary.Fail, r.Summary.Warn, r.Summary.OK)
	return err
}

// WriteJSON prints the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
	if s == "" {
		return "-"
	}
	return s
}
