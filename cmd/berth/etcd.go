package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/upgrade"
)

func newEtcdCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Back up the cluster's etcd, and restore it from a backup",
	}
	cmd.AddCommand(newEtcdBackupCmd(a), newEtcdRestoreCmd(a))
	return cmd
}

func newEtcdBackupCmd(a *app) *cobra.Command {
	var invPath, stateDir, out string
	cmd := &cobra.Command{
		Use:   "backup -i INVENTORY [--out FILE]",
		Short: "Save a snapshot of etcd on this machine (0600, with its sha256 beside it)",
		Long: `Takes a snapshot of the cluster's etcd with the etcd v3 client, through an SSH tunnel to a control plane, and
saves it on this machine: FILE (mode 0600) and FILE.sha256. The snapshot's own checksum is checked as it arrives.
Without --out it goes to the cluster's state directory (snapshots/etcd-<cluster>-<time>.db); --file, its earlier
name, still works and warns. Changes nothing on the hosts. berth upgrade apply takes one by itself before it
changes anything.`,
		Example: `  berth etcd backup -i inventory.yaml
  berth etcd backup -i inventory.yaml --out /secure/backups/payments-prod.db`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			s, err := upgrade.Backup(cmd.Context(), upgrade.EtcdOptions{Inventory: inv, StateDir: stateDir, File: out, Logger: a.log,
				Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}})
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(s)
			}
			fmt.Fprintf(a.out, "Snapshot of %s: %s (%d bytes, sha256 %s; also in %s.sha256)\n", inv.Metadata.Name, s.File, s.Size, s.SHA256, s.File)
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	cmd.Flags().StringVar(&out, "out", "", "`FILE` to write the snapshot to (default: the cluster's state directory)")
	cmd.Flags().StringVar(&out, "file", "", "where to write the snapshot")
	cmd.Flags().MarkDeprecated("file", "use --out")
	return cmd
}

func newEtcdRestoreCmd(a *app) *cobra.Command {
	var invPath, stateDir, from, sum string
	var yes, dryRun bool
	var events eventsFlag
	cmd := &cobra.Command{
		Use:   "restore -i INVENTORY --from FILE",
		Short: "Restore every etcd member from a snapshot (the cluster's state goes back to the snapshot's time)",
		Long: `Puts a snapshot back into every etcd member, the documented kubeadm way, under the cluster's lock:
  1. the snapshot's sha256 is checked against FILE.sha256 (or --sha256): a mismatch is refused and changes nothing;
  2. the snapshot is copied to every control plane; the API servers, controller managers, schedulers and etcd stop;
  3. each member's data is restored from the snapshot (etcdutl, run from the etcd image the host already runs),
     as a new cluster of the same members; the data it had is kept inside its data directory
     (/var/lib/etcd/.berth-before-restore-<time>; the data directory may be a filesystem of its own);
  4. etcd starts and must be healthy, then the API servers; every kubelet restarts; every node must be Ready.
Everything written to the cluster after the snapshot is lost. Asks first unless --yes. --events FILE writes every
progress event as one JSON line as it happens.`,
		Example: `  berth etcd restore -i inventory.yaml --from etcd-payments-uat-20261206T120000Z.db --yes`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			if _, err := upgrade.VerifySnapshot(from, sum); err != nil {
				return err
			}
			obs, err := events.observer(a)
			if err != nil {
				return err
			}
			if !yes && !dryRun {
				if err := confirm(cmd, a, fmt.Sprintf("Restore cluster %s (%s) to the snapshot %s? Everything written since is lost.",
					inv.Metadata.Name, inv.Metadata.Environment, from)); err != nil {
					return err
				}
			}
			rep, err := upgrade.Restore(cmd.Context(), upgrade.EtcdOptions{Inventory: inv, StateDir: stateDir, File: from, SHA256: sum,
				DryRun: dryRun, Logger: a.log, Command: "berth etcd restore",
				Observers: append([]phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}, obs...)})
			if err != nil {
				return fmt.Errorf("restore %s: %w\nrun the same command again to finish the restore once the cause is fixed", inv.Metadata.Name, err)
			}
			return printRun(a, RunOutput{Cluster: inv.Metadata.Name, DryRun: dryRun, ChangesMade: rep.Made, Plan: rep.Plan},
				fmt.Sprintf("Cluster %s restored from %s (%d changes).\n", inv.Metadata.Name, from, rep.Made))
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	cmd.Flags().StringVar(&from, "from", "", "the snapshot file (required)")
	cmd.Flags().StringVar(&sum, "sha256", "", "the snapshot's sha256, when no FILE.sha256 lies beside it")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change, change nothing")
	events.register(cmd)
	cmd.MarkFlagRequired("from")
	return cmd
}
