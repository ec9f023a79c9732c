package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// installFlags are the flags of `berth install` and `berth install phase`.
type installFlags struct {
	inventory   string
	bundle      string
	base        string
	trust       trustFlags
	yes         bool
	dryRun      bool
	skip        []string
	restart     bool
	stateDir    string
	concurrency int
	events      eventsFlag
}

func (f *installFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	inventoryFlag(cmd, &f.inventory, true)
	fl.StringVarP(&f.bundle, "bundle", "b", "", "offline bundle (required); verified before anything else")
	fl.StringVar(&f.base, "base", "", "the full bundle a patch bundle (-b) completes, verified with it; without it the hosts must hold its content")
	cmd.MarkFlagFilename("bundle", "tar")
	f.trust.register(cmd, true)
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation (unattended installs)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print exactly what would change on each host, change nothing")
	skipPhasesFlag(cmd, &f.skip)
	fl.BoolVar(&f.restart, "restart", false, "ignore the journal of earlier runs and check every phase again")
	fl.StringVar(&f.stateDir, "state-dir", "", "base directory of cluster state (journal, lock, kubeconfig); default ~/.local/state/berth")
	concurrencyFlag(cmd, &f.concurrency, 0, "hosts worked on at once within a phase (default 10)", false)
	f.events.register(cmd)
	cmd.MarkFlagRequired("bundle")
}

func newInstallCmd(a *app) *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "install -i INVENTORY -b BUNDLE",
		Short: "Install a highly available Kubernetes cluster from an offline bundle",
		Long: `Installs the cluster the inventory describes, over SSH, from the offline bundle and nothing else: packages,
binaries and images all come from the bundle; no host downloads anything.

Phases, in order (names for --skip-phases and 'berth install phase NAME'):
  ` + strings.Join(installer.PhaseNames(), ", ") + `

Before any host changes, berth verifies the bundle (signature and every digest), connects to every host with
verified host keys and runs the preflight checks. Every phase reads the hosts first and changes only what differs:
--dry-run prints that plan, and installing an installed cluster changes nothing and says so. Progress is journaled
in the cluster's state directory: after a failure, or if berth is stopped, run the same command again and it
resumes. kubeadm init and join run as systemd units on the hosts, so they finish even if berth is killed.

Progress goes to stderr, each phase with its step number and the time so far; --events FILE also writes every
event as one JSON line the moment it happens, for a dashboard or a change ticket to follow.

The admin kubeconfig (0600, server: the VIP) is written to the cluster's state directory. With registries in the
inventory, the registry hosts run them (docs/registries.md); the registry CA (key 0600) is kept there too.`,
		Example: `  berth install -i inventory.yaml -b berth-v1.31.tar --key bundle.pub
  berth install -i inventory.yaml -b berth-v1.31.tar --key bundle.pub --dry-run
  berth install -i inventory.yaml -b berth-v1.31.tar --key bundle.pub --yes      # unattended
  berth install -i inventory.yaml -b berth-v1.31.tar --key bundle.pub --yes --events install-events.jsonl`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstall(cmd, a, &f, nil)
		},
	}
	f.register(cmd)
	cmd.AddCommand(newInstallPhaseCmd(a))
	return cmd
}

func newInstallPhaseCmd(a *app) *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "phase NAME -i INVENTORY -b BUNDLE",
		Short: "Run one phase of the install again",
		Long: `Runs one named phase (and the connect, facts and preflight phases it needs), like kubeadm's phases.
Phases: ` + strings.Join(installer.PhaseNames(), ", "),
		Example: `  berth install phase load-balancer -i inventory.yaml -b berth-v1.31.tar --key bundle.pub --yes`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := exactArgs(1, "a phase NAME")(cmd, args); err != nil {
				return err
			}
			// Checked here, not minutes later after the bundle is verified.
			if names := installer.PhaseNames(); !slices.Contains(names, args[0]) {
				return usageError{fmt.Errorf("no phase is named %q; phases: %s", args[0], strings.Join(names, ", ")), cmd.CommandPath()}
			}
			return nil
		},
		ValidArgs: installer.PhaseNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd, a, &f, []string{args[0]})
		},
	}
	f.register(cmd)
	return cmd
}

// loadInventory loads and validates an inventory, printing its warnings.
func loadInventory(a *app, path string) (*inventory.Inventory, []byte, error) {
	raw, err := inventory.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range inv.Warnings() {
		fmt.Fprintln(a.errOut, w.String())
	}
	return inv, raw, nil
}

// InstallPlanOutput is what `berth install --dry-run -o json|yaml` prints: the run's report with its plan.
type InstallPlanOutput struct {
	*phase.Report
	Warnings []string `json:"warnings"`
}

// InstallOutput is what `berth install -o json|yaml` prints.
type InstallOutput struct {
	Cluster           string              `json:"cluster"`
	KubernetesVersion string              `json:"kubernetesVersion"`
	ChangesMade       int                 `json:"changesMade"`
	Resumed           bool                `json:"resumed"`
	Kubeconfig        string              `json:"kubeconfig"`
	Duration          string              `json:"duration"`
	Phases            []phase.PhaseResult `json:"phases"`
	Warnings          []string            `json:"warnings"`
}

func runInstall(cmd *cobra.Command, a *app, f *installFlags, only []string) error {
	ctx := cmd.Context()
	inv, raw, err := loadInventory(a, f.inventory)
	if err != nil {
		return err
	}
	verify, err := f.trust.options(a)
	if err != nil {
		return err
	}
	events, err := f.events.observer(a)
	if err != nil {
		return err
	}
	warnings := f.trust.warn(a)
	b, err := openClusterBundle(ctx, a, f.bundle, f.base, verify)
	if err != nil {
		return err
	}
	m := b.Manifest
	if !f.dryRun && !f.yes {
		if err := confirm(cmd, a, fmt.Sprintf("Install Kubernetes %s (bundle %s %s) on %d hosts of cluster %s (%s)?",
			m.KubernetesVersion, m.Name, m.Version, len(inv.Nodes()), inv.Metadata.Name, inv.Metadata.Environment)); err != nil {
			return err
		}
	}
	res, err := installer.Install(ctx, installer.Options{
		Inventory: inv, InventoryBytes: raw, Bundle: b, StateDir: f.stateDir, DryRun: f.dryRun, Skip: f.skip, Only: only,
		Restart: f.restart, Logger: a.log, Concurrency: f.concurrency, Command: "berth install",
		Observers: append([]phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}, events...),
	})
	if res != nil && res.Report != nil && f.dryRun {
		if a.machine() {
			if perr := a.print(InstallPlanOutput{res.Report, warnings}); perr != nil {
				return perr
			}
		} else if perr := res.Report.Plan.WriteText(a.out); perr != nil {
			return perr
		}
	}
	if err != nil {
		var locked *phase.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("%w\nanother berth run holds the cluster; wait for it, or if it is gone, run again (a lock whose holder died is taken over)", err)
		}
		return fmt.Errorf("install %s: %w\nrun the same command again to resume once the cause is fixed", inv.Metadata.Name, err)
	}
	if f.dryRun {
		return nil
	}
	rep := res.Report
	if a.machine() {
		return a.print(InstallOutput{Cluster: inv.Metadata.Name, KubernetesVersion: m.KubernetesVersion, ChangesMade: rep.Made,
			Resumed: rep.Resumed, Kubeconfig: res.Kubeconfig, Duration: rep.Duration.String(), Phases: rep.Phases, Warnings: warnings})
	}
	if rep.Made == 0 {
		fmt.Fprintf(a.out, "Nothing to do: cluster %s already matches the inventory and bundle %s (0 changes).\n", inv.Metadata.Name, m.Version)
	} else {
		fmt.Fprintf(a.out, "Cluster %s runs Kubernetes %s on %d nodes (%d changes in %s).\n", inv.Metadata.Name,
			m.KubernetesVersion, len(inv.Nodes()), rep.Made, rep.Duration.Round(1e9))
	}
	if res.Kubeconfig != "" {
		fmt.Fprintf(a.out, "kubeconfig: %s\n", res.Kubeconfig)
	}
	return nil
}

// confirm asks a yes/no question on the terminal; without a terminal it refuses and points to --yes.
func confirm(cmd *cobra.Command, a *app, question string) error {
	in, ok := a.in.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return usageError{fmt.Errorf("not at a terminal: add --yes to run %s unattended (or --dry-run to see the plan)", cmd.CommandPath()), cmd.CommandPath()}
	}
	fmt.Fprintf(a.errOut, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("%s cancelled", cmd.CommandPath())
	}
	return nil
}
