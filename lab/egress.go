package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Egress blocking lives on the machine that runs Docker, in two chains of its own: BERTH-LAB-FWD (jumped to from
// DOCKER-USER, which sees what a host sends through Docker's gateway and between bridges) and BERTH-LAB-IN (jumped
// to from INPUT, which sees what a host sends to this machine itself). Root inside a lab host cannot undo them.
// A blocked host keeps its plane subnets (every lab host, the VIPs) and answers to connections made to it (SSH from
// berth); everything it starts towards anything else is dropped.
const (
	chainFwd    = "BERTH-LAB-FWD"
	chainIn     = "BERTH-LAB-IN"
	hookFwd     = "DOCKER-USER"
	hookIn      = "INPUT"
	podsComment = "~pods" // the lab-wide rules for traffic with sources outside the lab (pods not masqueraded)
)

// egressComment tags the rules of one host (or podsComment) of a lab.
func egressComment(lab, host string) string { return "berth-lab:" + lab + ":" + host }

// egressRules returns the rules (without "-A CHAIN") that block a host whose addresses are addrs: replies and the
// lab's subnets pass, anything else it starts is dropped.
func egressRules(lab, host string, addrs []netip.Addr, subnets []netip.Prefix) (fwd, in [][]string) {
	c := []string{"-m", "comment", "--comment", egressComment(lab, host)}
	for _, a := range addrs {
		src := []string{"-s", a.String() + "/32"}
		est := append(append(append([]string{}, src...), "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"), c...)
		fwd = append(fwd, append(append([]string{}, est...), "-j", "RETURN"))
		in = append(in, append(append([]string{}, est...), "-j", "RETURN"))
		for _, s := range subnets {
			fwd = append(fwd, append(append(append([]string{}, src...), "-d", s.String()), append(c, "-j", "RETURN")...))
		}
	}
	for _, a := range addrs {
		drop := append(append([]string{"-s", a.String() + "/32"}, c...), "-j", "DROP")
		fwd = append(fwd, drop)
		in = append(in, drop)
	}
	return fwd, in
}

// podRules returns the lab-wide rules that drop what leaves a lab bridge with a source address that does not belong
// to the bridge's plane (pod traffic a CNI does not masquerade), unless it goes to the lab's subnets.
func podRules(lab string, bridges map[string]netip.Prefix, subnets []netip.Prefix) [][]string {
	c := []string{"-m", "comment", "--comment", egressComment(lab, podsComment)}
	var out [][]string
	for _, br := range sortedKeys(bridges) {
		base := []string{"-i", br, "!", "-s", bridges[br].String()}
		for _, s := range subnets {
			out = append(out, append(append(append([]string{}, base...), "-d", s.String()), append(c, "-j", "RETURN")...))
		}
		out = append(out, append(append(append([]string{}, base...), c...), "-j", "DROP"))
	}
	return out
}

// iptables runs the machine's iptables, waiting for its lock.
func iptables(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "10"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// egressLock serialises changes to the lab chains between processes.
func egressLock(ctx context.Context) (*fileLock, error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), "berth-lab-iptables.lock"))
}

// ensureChains creates the lab chains and the jumps to them.
func ensureChains(ctx context.Context) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return fmt.Errorf("block egress: iptables is not installed on this machine: %w", ErrPrerequisite)
	}
	for _, ch := range []struct{ chain, hook string }{{chainFwd, hookFwd}, {chainIn, hookIn}} {
		if _, err := iptables(ctx, "-S", ch.chain); err != nil {
			if _, err := iptables(ctx, "-N", ch.chain); err != nil {
				return err
			}
		}
		if _, err := iptables(ctx, "-C", ch.hook, "-j", ch.chain); err != nil {
			if _, err := iptables(ctx, "-I", ch.hook, "1", "-j", ch.chain); err != nil {
				return err
			}
		}
	}
	return nil
}

// chainRules lists a chain's rules as iptables -S prints them ("-A CHAIN ..."); none when the chain is missing.
func chainRules(ctx context.Context, chain string) []string {
	out, err := iptables(ctx, "-S", chain)
	if err != nil {
		return nil
	}
	var rules []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-A "+chain+" ") {
			rules = append(rules, line)
		}
	}
	return rules
}

// hasComment reports whether an iptables -S line carries exactly the comment c.
func hasComment(rule, c string) bool {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--comment" && strings.Trim(f[i+1], `"`) == c {
			return true
		}
	}
	return false
}

// deleteRules deletes the rules of a chain whose comment matches; match decides on the comment text.
func deleteRules(ctx context.Context, chain string, match func(comment string) bool) error {
	for _, rule := range chainRules(ctx, chain) {
		f := strings.Fields(rule)
		comment := ""
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--comment" {
				comment = strings.Trim(f[i+1], `"`)
			}
		}
		if comment == "" || !match(comment) {
			continue
		}
		f[0] = "-D"
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		if _, err := iptables(ctx, f...); err != nil {
			return err
		}
	}
	return nil
}

// removeEgressRules removes a host's egress rules (every host's, with host empty), the lab's pod rules once no host
// of the lab is blocked, and the lab chains once they are empty.
func removeEgressRules(ctx context.Context, lab, host string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // nothing can have been blocked on this machine
	}
	if len(chainRules(ctx, chainFwd)) == 0 && len(chainRules(ctx, chainIn)) == 0 {
		return dropEmptyChains(ctx)
	}
	lock, err := egressLock(ctx)
	if err != nil {
		return err
	}
	defer lock.unlock()
	prefix := egressComment(lab, "")
	match := func(c string) bool {
		if host == "" {
			return strings.HasPrefix(c, prefix)
		}
		return c == egressComment(lab, host)
	}
	for _, chain := range []string{chainFwd, chainIn} {
		if err := deleteRules(ctx, chain, match); err != nil {
			return err
		}
	}
	blocked := false
	for _, rule := range chainRules(ctx, chainFwd) {
		for _, f := range strings.Fields(rule) {
			if c := strings.Trim(f, `"`); strings.HasPrefix(c, prefix) && c != egressComment(lab, podsComment) {
				blocked = true
			}
		}
	}
	if !blocked {
		if err := deleteRules(ctx, chainFwd, func(c string) bool { return c == egressComment(lab, podsComment) }); err != nil {
			return err
		}
	}
	return dropEmptyChains(ctx)
}

// dropEmptyChains removes the lab chains and their jumps when no rule is left in them.
func dropEmptyChains(ctx context.Context) error {
	for _, ch := range []struct{ chain, hook string }{{chainFwd, hookFwd}, {chainIn, hookIn}} {
		if _, err := iptables(ctx, "-S", ch.chain); err != nil {
			continue // no such chain
		}
		if len(chainRules(ctx, ch.chain)) > 0 {
			continue
		}
		for {
			if _, err := iptables(ctx, "-D", ch.hook, "-j", ch.chain); err != nil {
				break
			}
		}
		if _, err := iptables(ctx, "-X", ch.chain); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
