package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/adhoc"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
	"github.com/spf13/cobra"
)

func newExecCmd(a *app) *cobra.Command {
	var (
		invPath     string
		roles       []string
		hosts       []string
		noSudo      bool
		concurrency int
		timeout     time.Duration
		dryRun      bool
	)
	cmd := &cobra.Command{
		Use:   "exec -i INVENTORY [--roles ROLE,...] [--hosts HOST,...] [--concurrency N] -- COMMAND",
		Short: "Run a shell command on many hosts at once",
		Long: `Runs COMMAND with sh on the selected hosts in parallel, as root (through non-interactive sudo for users
other than root, unless --no-sudo), over the inventory's SSH settings with strict host-key checking. Each output line
is prefixed with its host's name. When every host is done a summary follows; the exit status is 1 when the command
failed on any host.

Hosts are selected by role (any of --roles) and/or by name (--hosts); with neither, every host runs it.
--concurrency sets how many hosts run it at once (--parallel, its earlier name, still works and warns).
--dry-run only lists where the command would run. Ctrl-C stops the command on every host (its whole process group).`,
		Example: `  berth exec -i inventory.yaml -- uptime
  berth exec -i inventory.yaml --roles control-plane -- 'crictl ps | grep etcd'
  berth exec -i inventory.yaml --hosts cp1,w1 --timeout 30s -- journalctl -u kubelet -n 20
  berth exec -i inventory.yaml -o json -- cat /etc/os-release`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("no command: put it after --, e.g. berth exec -i inv.yaml -- uptime"), cmd.CommandPath()}
			}
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			pool := action.NewPool(inv, a.log)
			defer pool.Close()
			o := adhoc.Options{Inventory: inv, Hosts: hosts, Command: strings.Join(args, " "), NoSudo: noSudo,
				Concurrency: concurrency, Timeout: timeout, DryRun: dryRun, Logger: a.log, Pool: pool}
			for _, r := range roles {
				o.Roles = append(o.Roles, inventory.Role(r))
			}
			if !a.machine() && !dryRun {
				o.Output = a.out
			}
			if a.verbosity >= 2 && !a.machine() {
				o.Observers = append(o.Observers, phase.NewTextReporter(a.errOut, true))
			}
			rep, err := adhoc.Run(cmd.Context(), o)
			if rep == nil {
				return err
			}
			switch {
			case a.machine():
				if perr := a.print(rep); perr != nil {
					return perr
				}
			case dryRun:
				if perr := rep.Plan.WriteText(a.out); perr != nil {
					return perr
				}
			default:
				fmt.Fprintln(a.errOut, "exec:", rep.Summary())
			}
			if err != nil {
				return codeError{fmt.Errorf("command failed on %d of %d hosts", rep.Failed, len(rep.Results)), exitFailure}
			}
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	selectionFlags(cmd, &roles, &hosts, "")
	f := cmd.Flags()
	f.BoolVar(&noSudo, "no-sudo", false, "run as the login user, not as root")
	concurrencyFlag(cmd, &concurrency, phase.DefaultConcurrency, "hosts to run on at once", true)
	f.DurationVar(&timeout, "timeout", 0, "give up on a host after this long (its command is killed); 0 waits")
	f.BoolVar(&dryRun, "dry-run", false, "only list the hosts the command would run on")
	return cmd
}
