package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

func newResetCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var yes, dryRun bool
	cmd := &cobra.Command{
		Use:   "reset -i INVENTORY",
		Short: "Remove the cluster and everything berth installed from the hosts",
		Long: `Tears down what berth installed on every host of the inventory: kubeadm reset, the kubelet, keepalived and
haproxy stopped, containerd's data, berth's files and configuration, the packages berth installed (packages that
were on the host before berth stay), then the cluster's journal and kubeconfig. Workloads and their data on the
hosts are destroyed. Asks first unless --yes; --dry-run shows what would be removed.`,
		Example: `  berth reset -i inventory.yaml --dry-run
  berth reset -i inventory.yaml --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			if !yes && !dryRun {
				if err := confirm(a, fmt.Sprintf("Destroy cluster %s (%s) on %d hosts, with its workloads?", inv.Metadata.Name,
					inv.Metadata.Environment, len(inv.Hosts))); err != nil {
					return err
				}
			}
			rep, err := installer.Reset(cmd.Context(), installer.ResetOptions{Inventory: inv, StateDir: stateDir, DryRun: dryRun,
				Logger: a.log, Command: "berth reset", Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}})
			if err != nil {
				return err
			}
			if dryRun {
				return rep.Plan.WriteText(a.out)
			}
			fmt.Fprintf(a.out, "Cluster %s removed (%d changes).\n", inv.Metadata.Name, rep.Made)
			return nil
		},
	}
	cmd.Flags().StringVarP(&invPath, "inventory", "i", "", "inventory file (required)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.MarkFlagRequired("inventory")
	return cmd
}
