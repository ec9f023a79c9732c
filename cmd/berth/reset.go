package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

// RunOutput is what berth reset and berth etcd restore print with -o json|yaml: the changes made, or in a dry run
// the plan of every change.
type RunOutput struct {
	Cluster     string      `json:"cluster"`
	DryRun      bool        `json:"dryRun"`
	ChangesMade int         `json:"changesMade"`
	Plan        *phase.Plan `json:"plan,omitempty"`
}

// printRun prints out as -o asks; as text, a dry run prints its plan and a real run the summary line.
func printRun(a *app, out RunOutput, summary string) error {
	if a.machine() {
		return a.print(out)
	}
	if out.DryRun && out.Plan != nil {
		return out.Plan.WriteText(a.out)
	}
	_, err := fmt.Fprint(a.out, summary)
	return err
}

func newResetCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var yes, dryRun bool
	var events eventsFlag
	cmd := &cobra.Command{
		Use:   "reset -i INVENTORY",
		Short: "Remove the cluster and everything berth installed from the hosts",
		Long: `Tears down what berth installed on every host of the inventory: kubeadm reset, the kubelet, keepalived and
haproxy stopped, containerd's data, berth's files and configuration, the packages berth installed (packages that
were on the host before berth stay), then the cluster's journal and kubeconfig. Workloads and their data on the
hosts are destroyed. Asks first unless --yes; --dry-run shows what would be removed. --events FILE writes every
progress event as one JSON line as it happens.`,
		Example: `  berth reset -i inventory.yaml --dry-run
  berth reset -i inventory.yaml --yes`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			obs, err := events.observer(a)
			if err != nil {
				return err
			}
			if !yes && !dryRun {
				if err := confirm(cmd, a, fmt.Sprintf("Destroy cluster %s (%s) on %d hosts, with its workloads?", inv.Metadata.Name,
					inv.Metadata.Environment, len(inv.Hosts))); err != nil {
					return err
				}
			}
			rep, err := installer.Reset(cmd.Context(), installer.ResetOptions{Inventory: inv, StateDir: stateDir, DryRun: dryRun,
				Logger: a.log, Command: "berth reset",
				Observers: append([]phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}, obs...)})
			if err != nil {
				return err
			}
			return printRun(a, RunOutput{Cluster: inv.Metadata.Name, DryRun: dryRun, ChangesMade: rep.Made, Plan: rep.Plan},
				fmt.Sprintf("Cluster %s removed (%d changes).\n", inv.Metadata.Name, rep.Made))
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed, remove nothing")
	events.register(cmd)
	return cmd
}
