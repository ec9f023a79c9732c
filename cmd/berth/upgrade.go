package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/upgrade"
)

// upgradeFlags are the flags of `berth upgrade plan` and `berth upgrade apply`.
type upgradeFlags struct {
	inventory       string
	bundles         []string
	base            string
	trust           trustFlags
	stateDir        string
	yes             bool
	dryRun          bool
	maxUnavailable  string
	disableEviction bool
	drainTimeout    time.Duration
	events          eventsFlag
}

func (f *upgradeFlags) register(cmd *cobra.Command, apply bool) {
	fl := cmd.Flags()
	inventoryFlag(cmd, &f.inventory, true)
	fl.StringArrayVarP(&f.bundles, "bundle", "b", nil, "offline bundle of the target version (required); repeat it with the bundle of each minor in between for a multi-minor upgrade")
	fl.StringVar(&f.base, "base", "", "the full bundle that patch bundles (-b) complete, usually the one the cluster runs; without it the hosts must hold its content")
	f.trust.register(cmd, false)
	fl.StringVar(&f.stateDir, "state-dir", "", "base directory of cluster state (journal, lock, snapshots); default ~/.local/state/berth")
	fl.StringVar(&f.maxUnavailable, "max-unavailable", "1", "workers upgraded at once: a number, or a percentage of the workers (25%)")
	if apply {
		fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation (unattended upgrades)")
		fl.BoolVar(&f.dryRun, "dry-run", false, "print every change and wait the upgrade would make on each host, change nothing")
		fl.BoolVar(&f.disableEviction, "disable-eviction", false, "drain by deleting pods instead of evicting them: PodDisruptionBudgets are NOT honoured")
		fl.DurationVar(&f.drainTimeout, "drain-timeout", upgrade.DefaultDrainTimeout, "how long a node's drain waits for its pods to go before the upgrade stops there")
		f.events.register(cmd)
	}
	cmd.MarkFlagRequired("bundle")
	cmd.MarkFlagFilename("bundle", "tar")
}

func newUpgradeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Upgrade a running cluster in place from offline bundles, with no failed request",
		Long: `Moves a running cluster to the Kubernetes release of an offline bundle, online: 'plan' reads the hosts and the
cluster and says what would change and whether anything stands in the way; 'apply' does it.

The control plane moves one minor at a time (give one bundle per minor for a longer path); every kubelet moves
once, straight to the target, as kubelets may stay up to three minors behind the API server. berth never
downgrades. Before the first change apply takes an etcd snapshot (kept in the cluster's state directory and on the
first control plane; berth etcd restore brings it back).`,
	}
	cmd.AddCommand(newUpgradePlanCmd(a), newUpgradeApplyCmd(a))
	return cmd
}

func newUpgradePlanCmd(a *app) *cobra.Command {
	var f upgradeFlags
	cmd := &cobra.Command{
		Use:   "plan -i INVENTORY -b BUNDLE [-b BUNDLE]...",
		Short: "Say what an upgrade would change, host by host, and check it can go ahead; change nothing",
		Long: `Reads every host (the version of each component, from its facts) and the cluster, and prints, before any host is
touched: the control plane's path (one minor at a time), every component's move from -> to on every host, the
order of the work, and every check, all at once:
  - version rules: at most one minor per hop and never down; kubelets at most three minors behind the API server
    and never newer; a missing hop names the bundle to add;
  - the bundles' signatures (and every digest), and their architecture against the hosts';
  - every node Ready, every etcd member healthy, the API answering through the VIP;
  - room on every node to stage the bundle;
  - PodDisruptionBudgets that allow no disruption now, named with their pods: apply would wait for them.
Exits 1 when a problem stops the upgrade.`,
		Example: `  berth upgrade plan -i inventory.yaml -b berth-v1.32.tar --key bundle.pub
  berth upgrade plan -i inventory.yaml -b berth-v1.32.tar -b berth-v1.33.tar --key bundle.pub   # 1.31 -> 1.33
  berth upgrade plan -i inventory.yaml -b berth-v1.32.tar -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := upgradeOptions(cmd, a, &f)
			if err != nil {
				return err
			}
			plan, err := upgrade.PlanUpgrade(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.machine() {
				if err := a.print(plan); err != nil {
					return err
				}
			} else if err := plan.WriteText(a.out); err != nil {
				return err
			}
			if !plan.OK() {
				return codeError{fmt.Errorf("%d problems stop the upgrade (see above)", len(plan.Problems)), exitFailure}
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newUpgradeApplyCmd(a *app) *cobra.Command {
	var f upgradeFlags
	cmd := &cobra.Command{
		Use:   "apply -i INVENTORY -b BUNDLE [-b BUNDLE]...",
		Short: "Upgrade the cluster: snapshot, control planes one at a time, add-ons, workers in drained batches",
		Long: `Runs the plan's checks first (any problem stops it before a host is touched), then:
  1. an etcd snapshot, kept in the cluster's state directory (0600, with its sha256) and on the first control plane;
  2. stages the bundle on every node and loads its images into containerd, before the first node is touched;
  3. control planes one at a time: out of every haproxy first (the VIP never sends a request to an API server about
     to restart), kubeadm upgrade apply on the first and upgrade node on the others, the new kubelet, then its API
     server, etcd member and node are waited for and it goes back into haproxy;
  4. berth's add-ons (pod network, cluster DNS), rolling, DNS answering between steps;
  5. workers in batches of --max-unavailable: cordon, drain with the eviction API (PodDisruptionBudgets honoured;
     a drain waits --drain-timeout and then stops, naming the budget and the pod), upgrade, uncordon; after each
     batch the API, every node, cluster DNS and the system pods must be healthy before the next. A node the
     administrator had cordoned stays cordoned.
Progress is journaled: if berth is stopped (even kill -9), run the same command again and it resumes; a node
already upgraded is not drained again. A finished upgrade run again changes nothing. Progress goes to stderr, each
phase with its step number and the time so far; --events FILE also writes every event as one JSON line the moment
it happens.

A patch bundle (berth bundle delta) works with its base given by --base, or without it when every host already
holds the base's content: the hosts staged it when they installed or last upgraded to that base. Without --base
the plan checks every host for what the patch takes from its base, and names any host that lacks it.`,
		Example: `  berth upgrade apply -i inventory.yaml -b berth-v1.32.tar --key bundle.pub --dry-run
  berth upgrade apply -i inventory.yaml -b berth-v1.32.tar --key bundle.pub --yes
  berth upgrade apply -i inventory.yaml -b berth-v1.32.tar --key bundle.pub --yes --max-unavailable 25%
  berth upgrade apply -i inventory.yaml -b v1.31-to-v1.32-patch.tar --key bundle.pub --yes   # hosts hold v1.31`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := upgradeOptions(cmd, a, &f)
			if err != nil {
				return err
			}
			obs, err := f.events.observer(a)
			if err != nil {
				return err
			}
			o.Observers = append(o.Observers, obs...)
			if !f.dryRun && !f.yes {
				t := o.Bundles[0].Manifest
				if err := confirm(cmd, a, fmt.Sprintf("Upgrade cluster %s (%s) to Kubernetes %s (bundle %s %s)?", o.Inventory.Metadata.Name,
					o.Inventory.Metadata.Environment, t.KubernetesVersion, t.Name, t.Version)); err != nil {
					return err
				}
			}
			o.DryRun = f.dryRun
			o.DisableEviction, o.DrainTimeout = f.disableEviction, f.drainTimeout
			if f.disableEviction {
				fmt.Fprintln(a.errOut, "WARNING: --disable-eviction: pods are deleted without asking their PodDisruptionBudgets")
			}
			res, err := upgrade.Apply(cmd.Context(), o)
			return printUpgrade(a, o, res, err)
		},
	}
	f.register(cmd, true)
	return cmd
}

// upgradeOptions loads the inventory and opens every bundle (verified) for an upgrade command.
func upgradeOptions(cmd *cobra.Command, a *app, f *upgradeFlags) (upgrade.Options, error) {
	ctx := cmd.Context()
	inv, raw, err := loadInventory(a, f.inventory)
	if err != nil {
		return upgrade.Options{}, err
	}
	verify, err := f.trust.options(a)
	if err != nil {
		return upgrade.Options{}, err
	}
	o := upgrade.Options{Inventory: inv, InventoryBytes: raw, StateDir: f.stateDir, MaxUnavailable: f.maxUnavailable,
		Logger: a.log, Command: "berth upgrade", Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}}
	if _, err := upgrade.BatchSize(f.maxUnavailable, len(inv.Workers())); err != nil {
		return o, usageError{err, cmd.CommandPath()}
	}
	for _, p := range f.bundles {
		b, err := openClusterBundle(ctx, a, p, f.base, verify)
		if err != nil {
			return o, err
		}
		o.Bundles = append(o.Bundles, b)
	}
	return o, nil
}

// UpgradeOutput is what `berth upgrade apply -o json|yaml` prints.
type UpgradeOutput struct {
	Cluster     string              `json:"cluster"`
	From        string              `json:"from"`
	To          string              `json:"to"`
	ChangesMade int                 `json:"changesMade"`
	Resumed     bool                `json:"resumed"`
	Snapshot    string              `json:"snapshot,omitempty"`
	Duration    string              `json:"duration"`
	Plan        *upgrade.Plan       `json:"plan,omitempty"`
	Phases      []phase.PhaseResult `json:"phases"`
	Changes     *phase.Plan         `json:"changes,omitempty"` // --dry-run: every change and wait the apply would make
	Error       string              `json:"error,omitempty"`
}

func printUpgrade(a *app, o upgrade.Options, res *upgrade.Result, err error) error {
	name := o.Inventory.Metadata.Name
	if res != nil && res.Report != nil {
		rep := res.Report
		switch {
		case a.machine():
			out := UpgradeOutput{Cluster: name, ChangesMade: rep.Made, Resumed: rep.Resumed, Snapshot: res.Snapshot,
				Duration: rep.Duration.Round(time.Second).String(), Plan: res.Plan, Phases: rep.Phases}
			if res.Plan != nil {
				out.From, out.To = res.Plan.From, res.Plan.To
			}
			if o.DryRun {
				out.Changes = rep.Plan
			}
			if err != nil {
				out.Error = err.Error()
			}
			if perr := a.print(out); perr != nil {
				return perr
			}
		case o.DryRun:
			if res.Plan != nil {
				res.Plan.WriteText(a.out)
				fmt.Fprintln(a.out)
			}
			if perr := rep.Plan.WriteText(a.out); perr != nil {
				return perr
			}
		case err == nil && rep.Made == 0:
			fmt.Fprintf(a.out, "Nothing to do: every node of %s already runs the target (0 changes).\n", name)
		case err == nil:
			fmt.Fprintf(a.out, "Cluster %s upgraded to Kubernetes %s (%d changes in %s).\n", name, res.Plan.To, rep.Made, rep.Duration.Round(time.Second))
			if res.Snapshot != "" {
				fmt.Fprintf(a.out, "etcd snapshot taken first: %s\n", res.Snapshot)
			}
		}
	}
	if err != nil {
		var locked *phase.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("%w\nanother berth run holds the cluster; wait for it, or if it is gone, run again (a lock whose holder died is taken over)", err)
		}
		return fmt.Errorf("upgrade %s: %w\nrun the same command again to resume once the cause is fixed", name, err)
	}
	return nil
}
