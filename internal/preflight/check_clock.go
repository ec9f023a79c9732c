package preflight

import (
	"fmt"
	"slices"
	"time"
)

// checkClock: clocks must agree between hosts (certificates, etcd leases, logs). Each host is judged by its offset
// from the median host, so one wrong clock is named, not all of them.
func checkClock(in *input) []Result {
	if len(in.facts) == 0 {
		return nil
	}
	var offsets []time.Duration
	for _, f := range in.facts {
		offsets = append(offsets, f.ClockOffset)
	}
	slices.Sort(offsets)
	median := offsets[len(offsets)/2]
	var out []Result
	for name, f := range in.facts {
		skew := f.ClockOffset - median
		if skew < 0 {
			skew = -skew
		}
		r := Result{Host: name, Check: "clock", Status: OK,
			Detail: fmt.Sprintf("%s from the other hosts (measured within %s)", skew.Round(time.Millisecond), (f.ClockRTT / 2).Round(time.Millisecond))}
		switch {
		case skew > in.limits.MaxClockSkew:
			r.Status = Fail
			r.Fix = fmt.Sprintf("synchronise the clocks (chrony/NTP against the bank's time servers); at most %s apart", in.limits.MaxClockSkew)
		case skew > in.limits.WarnClockSkew:
			r.Status = Warn
			r.Fix = "check time synchronisation (chronyc tracking)"
		}
		out = append(out, r)
	}
	return out
}
