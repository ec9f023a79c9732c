package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
)

func newStatusCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var listeners, traffic bool
	cmd := &cobra.Command{
		Use:   "status -i INVENTORY",
		Short: "Show the cluster: nodes, API servers, etcd members, the VIP's holder, DNS, component versions",
		Long: `Reads the cluster the inventory describes, over SSH and through the API (tunnelled through a control plane),
and changes nothing: every node with its version and readiness, each API server's /readyz, each etcd member's
health and the leader, which control plane holds the VIP and whether the API answers through it, cluster DNS, and
the version of every component on every node (kubelet, kubeadm, the control plane's images, etcd, containerd,
runc, keepalived, haproxy, dnsmasq and berth's add-ons), as upgrades plan from them, and every registry replica:
its address and plane, whether it answers (TLS with the registry CA from the state directory, as a client pulls),
how many images it serves and whether it serves the same as the registry's other replicas.

It also reads every host's listening sockets (ss) and names the network plane of each listener's address, from
the inventory's NICs and VIPs: "every" for a socket bound to every address, which is reachable on every plane,
"loopback", or "other" for an address the inventory does not give the host. The summary names berth's own
listeners bound to every address; --listeners prints them all, host by host. --planes prints the bytes each
plane's NIC of each host has received and sent since it came up (the kernel's counters): read it twice around an
action to see which plane carried it.
Exits 1 when anything is unhealthy.`,
		Example: `  berth status -i inventory.yaml
  berth status -i inventory.yaml --listeners
  berth status -i inventory.yaml --planes
  berth status -i inventory.yaml -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			st, err := installer.ClusterStatus(cmd.Context(), inv, stateDir, a.log)
			if st != nil {
				if a.machine() {
					if perr := a.print(st); perr != nil {
						return perr
					}
				} else {
					printStatus(a, st, listeners, traffic)
				}
			}
			if err != nil {
				return err
			}
			if !st.Healthy() {
				return codeError{errors.New("the cluster is not healthy (see above)"), exitFailure}
			}
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state (the registry CA); default ~/.local/state/berth")
	cmd.Flags().BoolVar(&listeners, "listeners", false, "print every host's listening sockets with the plane of each")
	cmd.Flags().BoolVar(&traffic, "planes", false, "print the bytes each host's NIC on each plane has received and sent")
	return cmd
}

// printVersions prints one column per component that runs anywhere, one row per node that answered.
func printVersions(w io.Writer, hosts []installer.HostVersions) {
	var cols []string
	for _, c := range installer.Components {
		for _, h := range hosts {
			if h.Versions[c] != "" {
				cols = append(cols, c)
				break
			}
		}
	}
	if len(cols) == 0 {
		return
	}
	fmt.Fprintln(w, "\nVERSIONS\t"+strings.ToUpper(strings.Join(cols, "\t")))
	for _, h := range hosts {
		row := []string{h.Host}
		for _, c := range cols {
			v := h.Versions[c]
			if v == "" {
				v = "-"
			}
			row = append(row, v)
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func printStatus(a *app, st *installer.Status, listeners, traffic bool) {
	w := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Cluster %s, API endpoint %s: %s (VIP held by %s)\n\n", st.Cluster, st.Endpoint,
		yesNo(st.VIPAnswers, "answers", "DOES NOT ANSWER"), yesNo(st.VIPHolder != "", st.VIPHolder, "nobody"))
	fmt.Fprintln(w, "NODE\tSTATUS\tROLES\tVERSION\tINTERNAL-IP")
	for _, n := range st.Nodes {
		status := yesNo(n.Ready, "Ready", "NotReady")
		if !n.Registered {
			status = "not registered"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n.Name, status, n.Roles, n.Version, n.InternalIP)
	}
	fmt.Fprintln(w, "\nAPI SERVER\tADDRESS\tSTATUS\tDETAIL")
	for _, s := range st.APIServers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Host, s.Address, yesNo(s.Healthy, "ready", "NOT READY"), s.Detail)
	}
	fmt.Fprintln(w, "\nETCD MEMBER\tSTATUS\tLEADER\tDETAIL")
	for _, e := range st.Etcd {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Host, yesNo(e.Healthy, "healthy", "UNHEALTHY"), yesNo(e.Leader, "leader", ""), e.Detail)
	}
	fmt.Fprintln(w, "\nDNS\tADDRESS\tSTATUS\tDETAIL")
	for _, d := range st.DNS {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.Host, d.Address, yesNo(d.Healthy, "ready", "NOT READY"), d.Detail)
	}
	if len(st.Registries) > 0 {
		fmt.Fprintln(w, "\nREGISTRY\tHOST\tADDRESS\tPLANE\tSTATUS\tIMAGES\tREPLICAS\tDETAIL")
		for _, r := range st.Registries {
			fmt.Fprintf(w, "%s (%s)\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Registry, r.Role, r.Host, r.Address, r.Plane,
				yesNo(r.Reachable, "answers", "UNREACHABLE"), r.Images, yesNo(r.InSync, "in sync", "OUT OF SYNC"), r.Detail)
		}
	}
	if len(st.Storage) > 0 {
		fmt.Fprintln(w, "\nSTORAGE CLASS\tPROVISIONER\tDEFAULT\tVOLUMES\tDETAIL")
		for _, sc := range st.Storage {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", sc.Name, sc.Provisioner, yesNo(sc.Default, "default", ""), sc.Volumes, sc.Error)
		}
	}
	printVersions(w, st.Versions)
	printListeners(w, st, listeners)
	printFirewall(w, st)
	if traffic {
		printTraffic(w, st)
	}
	if len(st.Unreachable) > 0 {
		fmt.Fprintf(w, "\nunreachable over SSH: %v\n", st.Unreachable)
	}
	w.Flush()
}

// printListeners prints every host's listeners (all), or a line that counts them and names berth's own bound to
// every address.
func printListeners(w io.Writer, st *installer.Status, all bool) {
	if len(st.Listeners) == 0 {
		return
	}
	if all {
		fmt.Fprintln(w, "\nLISTENER\tPROTO\tADDRESS\tPORT\tPLANE\tPROGRAM")
		for _, h := range st.Listeners {
			if h.Error != "" {
				fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%s\n", h.Host, h.Error)
			}
			for _, l := range h.Listeners {
				plane := l.Plane
				if l.Berth && l.Wildcard() {
					plane = "EVERY (berth's)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", h.Host, l.Proto, l.Address, l.Port, plane, yesNo(l.Process != "", l.Process, "-"))
			}
		}
		return
	}
	n := 0
	for _, h := range st.Listeners {
		n += len(h.Listeners)
		if h.Error != "" {
			fmt.Fprintf(w, "\nlisteners of %s: %s\n", h.Host, h.Error)
		}
	}
	// berth's listeners on every address, one entry per program and port with the hosts where it is so.
	var order []string
	hosts := map[string][]string{}
	for _, h := range st.Listeners {
		for _, l := range h.Listeners {
			if l.Berth && l.Wildcard() {
				k := fmt.Sprintf("%s %s/%d", l.Process, l.Proto, l.Port)
				if hosts[k] == nil {
					order = append(order, k)
				}
				hosts[k] = append(hosts[k], h.Host)
			}
		}
	}
	fmt.Fprintf(w, "\n%d listening sockets on %d hosts", n, len(st.Listeners))
	if len(order) > 0 {
		var parts []string
		for _, k := range order {
			parts = append(parts, k+" on "+strings.Join(hosts[k], ","))
		}
		fmt.Fprintf(w, "; berth's on every address (every plane): %s", strings.Join(parts, "; "))
	}
	fmt.Fprintln(w, " (--listeners lists them all)")
}

// printFirewall prints one line on berth's host firewall: on how many hosts it is loaded as berth left it, and the
// hosts where it is not, with what berth install does about them.
func printFirewall(w io.Writer, st *installer.Status) {
	by := map[installer.FirewallState][]string{}
	read := 0
	for _, h := range st.Listeners {
		if h.Firewall != "" {
			by[h.Firewall] = append(by[h.Firewall], h.Host)
			read++
		}
	}
	if read == 0 || len(by[installer.FirewallOff]) == read {
		return // not read, or off everywhere as the inventory says
	}
	parts := []string{fmt.Sprintf("loaded on %d of %d hosts", len(by[installer.FirewallLoaded]), read)}
	for _, k := range []struct {
		state installer.FirewallState
		what  string
	}{{installer.FirewallChanged, "CHANGED since berth loaded it (flushed or edited) on %s: berth install loads it again"},
		{installer.FirewallAbsent, "MISSING on %s: berth install loads it"},
		{installer.FirewallLeft, "still on %s though the inventory turns it off: berth install removes it"}} {
		if hosts := by[k.state]; len(hosts) > 0 {
			parts = append(parts, fmt.Sprintf(k.what, strings.Join(hosts, ",")))
		}
	}
	fmt.Fprintf(w, "firewall: %s\n", strings.Join(parts, "; "))
}

// printTraffic prints each host's bytes received and sent per plane.
func printTraffic(w io.Writer, st *installer.Status) {
	fmt.Fprintln(w, "\nTRAFFIC\tPLANE\tINTERFACE\tRECEIVED\tSENT")
	for _, h := range st.Listeners {
		for _, t := range h.Traffic {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.Host, t.Plane, t.Interface, airgap.HumanBytes(t.RxBytes), airgap.HumanBytes(t.TxBytes))
		}
	}
}
