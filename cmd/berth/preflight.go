package main

import (
	"fmt"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/adhoc"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/inventory"
	"github.com/spf13/cobra"
)

func newPreflightCmd(a *app) *cobra.Command {
	var (
		invPath   string
		roles     []string
		hosts     []string
		all       bool
		installed bool
		bundle    string
	)
	cmd := &cobra.Command{
		Use:   "preflight -i INVENTORY",
		Short: "Check that the hosts can take the cluster, changing nothing",
		Long: `Logs in to every host (strict host-key checking) and reads, without changing anything: OS and kernel; CPUs,
memory and free disk for the host's roles; swap; cgroup version, controllers and the driver to use; kernel features
(br_netfilter, overlay, vxlan, built in or as modules) and IP forwarding; each network plane's NIC present under the
inventory's interface name with the inventory's address; the ports the host's roles need (6443/6444/2379/2380/
10250/10257/10259 on control planes, 10250 on workers, 53 on DNS hosts, registry ports) free; non-interactive sudo;
and, across hosts, unique host names and clocks in step. With --installed (an installed cluster), a port held by
the component berth put there passes, and a program of berth's that listens on every address (so on every network
plane) is a warning. With --bundle, each host's architecture must be the
bundle's (install always checks that).

Prints one table with every failure and warning and how to fix it (--all adds the passed checks). Exits 1 when any
check failed.`,
		Example: `  berth preflight -i inventory.yaml
  berth preflight -i inventory.yaml -b berth-v1.31.tar       # also: every host has the bundle's architecture
  berth preflight -i inventory.yaml --roles control-plane --all
  berth preflight -i inventory.yaml -o json | jq '.results[] | select(.status=="fail")'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			var rs []inventory.Role
			for _, r := range roles {
				rs = append(rs, inventory.Role(r))
			}
			sel, err := adhoc.SelectHosts(inv, rs, hosts)
			if err != nil {
				return usageError{err, cmd.CommandPath()}
			}
			pool := action.NewPool(inv, a.log)
			defer pool.Close()
			o := preflight.RunOptions{Options: preflight.Options{Inventory: inv, Hosts: sel, Installed: installed, Logger: a.log}, Pool: pool}
			if bundle != "" {
				// Only the target is read, to compare architectures; install verifies the whole bundle.
				h, err := bundles.ReadHeader(bundle, bundles.VerifyOptions{})
				if err != nil {
					return err
				}
				o.Arch = h.Manifest.Target.Arch
			}
			if !a.machine() && a.verbosity >= 1 {
				o.Observers = append(o.Observers, phase.NewTextReporter(a.errOut, a.verbosity >= 2))
			}
			rep, _, err := preflight.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.machine() {
				if err := a.print(rep); err != nil {
					return err
				}
			} else if err := rep.WriteTable(a.out, all); err != nil {
				return err
			}
			if rep.Failed() {
				return codeError{fmt.Errorf("preflight failed: %d of %d checks", rep.Summary.Fail, len(rep.Results)), exitFailure}
			}
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	selectionFlags(cmd, &roles, &hosts, "")
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "also list the checks that passed")
	f.StringVarP(&bundle, "bundle", "b", "", "offline bundle whose target architecture every host must have")
	f.BoolVar(&installed, "installed", false, "ports held by the components berth installs there pass (checking an installed cluster)")
	return cmd
}
