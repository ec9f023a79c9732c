package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

func newNodeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Remove a node from the cluster (to add one, list it in the inventory and run berth install)",
		Long: `Nodes join the cluster from the inventory: add a worker or a control plane to the inventory and run berth install
again; it joins the new host and changes nothing else (haproxy and keepalived on the control planes learn a new
control plane). 'remove' takes a node out.`,
	}
	cmd.AddCommand(newNodeRemoveCmd(a))
	return cmd
}

// NodeRemoveOutput is what berth node remove prints with -o json|yaml.
type NodeRemoveOutput struct {
	Cluster     string              `json:"cluster"`
	Node        string              `json:"node"`
	DryRun      bool                `json:"dryRun"`
	ChangesMade int                 `json:"changesMade"`
	Resumed     bool                `json:"resumed"`
	Duration    string              `json:"duration"`
	Removal     *installer.Removal  `json:"removal,omitempty"`
	Phases      []phase.PhaseResult `json:"phases"`
	Plan        *phase.Plan         `json:"plan,omitempty"` // --dry-run: every change and wait
	Error       string              `json:"error,omitempty"`
}

func newNodeRemoveCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var yes, dryRun, disableEviction bool
	var drainTimeout time.Duration
	var events eventsFlag
	cmd := &cobra.Command{
		Use:   "remove -i INVENTORY NAME",
		Short: "Drain a node, reset it and take it out of the cluster (and, for a control plane, out of haproxy, keepalived and etcd)",
		Long: `Removes the node NAME from the cluster, in this order:
  1. cordon and drain it with the eviction API (PodDisruptionBudgets honoured; --drain-timeout bounds the wait);
  2. for a control plane: take it out of every haproxy, stop its keepalived (the VIP moves to another control
     plane first when it holds it) and its haproxy; hand etcd's leadership on, stop its API server, controller
     manager and scheduler, and remove its etcd member; rewrite haproxy and keepalived on the control planes that
     stay, and every node's DNS cache, without it;
  3. reset the host as berth reset does (kubeadm reset, berth's services, files and the packages berth installed);
  4. delete its Node.
The API answers through the VIP throughout.

Refused before any host changes, with the reason and the fix: a name that is no node (with the name you may have
meant), the last control plane or DNS host, a removal that would leave etcd without a healthy quorum (or one asked
of an etcd that has none now), a PodDisruptionBudget that allows no disruption of a pod on the node, an unreachable
host.

Then delete NAME from the inventory: while it is listed there, the next berth install joins it again (which is how a
node comes back). A host that is gone for good (a dead machine) is deleted from the inventory first: berth then
removes it from the cluster (its Node, its etcd member, its place in haproxy) without touching the host.

Progress is journaled: if berth is stopped, run the same command again and it resumes; run again after it finished,
it finds nothing to do. Asks first unless --yes; --dry-run prints every change and wait.`,
		Example: `  berth node remove -i inventory.yaml worker3 --dry-run
  berth node remove -i inventory.yaml worker3 --yes
  berth node remove -i inventory.yaml cp2 --yes --drain-timeout 10m`,
		Args:              exactArgs(1, "the NAME of the node"),
		ValidArgsFunction: completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, raw, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			obs, err := events.observer(a)
			if err != nil {
				return err
			}
			node := args[0]
			if !yes && !dryRun {
				if err := confirm(cmd, a, fmt.Sprintf("Remove node %s from cluster %s (%s): drain it, reset its host, delete it?",
					node, inv.Metadata.Name, inv.Metadata.Environment)); err != nil {
					return err
				}
			}
			if disableEviction {
				fmt.Fprintln(a.errOut, "WARNING: --disable-eviction: pods are deleted without asking their PodDisruptionBudgets")
			}
			res, err := installer.RemoveNode(cmd.Context(), installer.NodeRemoveOptions{Inventory: inv, InventoryBytes: raw, Node: node,
				StateDir: stateDir, DryRun: dryRun, DrainTimeout: drainTimeout, DisableEviction: disableEviction, Logger: a.log,
				Command: "berth node remove", Observers: append([]phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}, obs...)})
			return printNodeRemove(a, inv.Metadata.Name, node, dryRun, res, err)
		},
	}
	inventoryFlag(cmd, &invPath, true)
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", "", "base directory of cluster state (journal, lock); default ~/.local/state/berth")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&dryRun, "dry-run", false, "print every change and wait the removal would make, change nothing")
	f.DurationVar(&drainTimeout, "drain-timeout", installer.DefaultRemoveDrainTimeout, "how long the drain waits for the node's pods to go before the removal stops there")
	f.BoolVar(&disableEviction, "disable-eviction", false, "drain by deleting pods instead of evicting them: PodDisruptionBudgets are NOT honoured")
	events.register(cmd)
	return cmd
}

func printNodeRemove(a *app, cluster, node string, dryRun bool, res *installer.NodeRemoveResult, err error) error {
	if res != nil && res.Report != nil {
		rep := res.Report
		switch {
		case a.machine():
			out := NodeRemoveOutput{Cluster: cluster, Node: node, DryRun: dryRun, ChangesMade: rep.Made, Resumed: rep.Resumed,
				Duration: rep.Duration.Round(time.Second).String(), Removal: res.Removal, Phases: rep.Phases}
			if dryRun {
				out.Plan = rep.Plan
			}
			if err != nil {
				out.Error = err.Error()
			}
			if perr := a.print(out); perr != nil {
				return perr
			}
		case dryRun:
			if perr := rep.Plan.WriteText(a.out); perr != nil {
				return perr
			}
		case err == nil && rep.Made == 0:
			fmt.Fprintf(a.out, "Nothing to do: %s is not in cluster %s (0 changes).\n", node, cluster)
		case err == nil:
			fmt.Fprintf(a.out, "Node %s removed from cluster %s (%d changes in %s).\n", node, cluster, rep.Made, rep.Duration.Round(time.Second))
		}
		if err == nil && !dryRun && res.Removal != nil && res.Removal.InInventory {
			fmt.Fprintf(a.errOut, "Now delete %s from the inventory: while it is listed there, the next berth install joins it again.\n", node)
		}
	}
	if err != nil {
		var locked *phase.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("%w\nanother berth run holds the cluster; wait for it, or if it is gone, run again (a lock whose holder died is taken over)", err)
		}
		return fmt.Errorf("remove node %s from %s: %w", node, cluster, err)
	}
	return nil
}
