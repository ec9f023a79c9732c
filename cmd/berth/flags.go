package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/inventory"
)

// Flags that mean the same on every command that has them, registered in one place each.

// inventoryFlag registers -i/--inventory: the inventory file, $BERTH_INVENTORY when not given.
func inventoryFlag(cmd *cobra.Command, p *string, required bool) {
	usage := "inventory `FILE` (default $" + envInventory + ")"
	if required {
		usage = "inventory `FILE` (required; default $" + envInventory + ")"
	}
	cmd.Flags().StringVarP(p, "inventory", "i", "", usage)
	cmd.Flags().SetAnnotation("inventory", annotationEnv, []string{envInventory})
	cmd.MarkFlagFilename("inventory", "yaml", "yml")
	if required {
		cmd.MarkFlagRequired("inventory")
	}
}

// selectionFlags registers --roles and --hosts, completed from the command's inventory.
func selectionFlags(cmd *cobra.Command, roles, hosts *[]string, what string) {
	cmd.Flags().StringSliceVar(roles, "roles", nil, "only hosts with any of these roles, comma-separated ("+roleList()+")"+what)
	cmd.Flags().StringSliceVar(hosts, "hosts", nil, "only these hosts (inventory names), comma-separated"+what)
	cmd.RegisterFlagCompletionFunc("roles", completeRoles)
	cmd.RegisterFlagCompletionFunc("hosts", completeHosts)
}

func roleList() string {
	s := ""
	for i, r := range inventory.AllRoles {
		if i > 0 {
			s += ", "
		}
		s += string(r)
	}
	return s
}

// concurrencyFlag registers --concurrency: hosts worked on at once. --parallel, its name on exec before, stays as
// a hidden alias that warns.
func concurrencyFlag(cmd *cobra.Command, p *int, def int, usage string, withParallel bool) {
	cmd.Flags().IntVar(p, "concurrency", def, usage)
	if withParallel {
		cmd.Flags().IntVar(p, "parallel", def, usage)
		cmd.Flags().MarkDeprecated("parallel", "use --concurrency")
	}
}

// skipPhasesFlag registers --skip-phases, completed from the install's phases.
func skipPhasesFlag(cmd *cobra.Command, p *[]string) {
	cmd.Flags().StringSliceVar(p, "skip-phases", nil, "phases not to run, comma-separated (see the list above)")
	cmd.RegisterFlagCompletionFunc("skip-phases", completeList(installer.PhaseNames))
}

// eventsFlag is --events FILE: every event of the run as one JSON line, written as it happens.
type eventsFlag struct {
	path string
}

func (e *eventsFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.path, "events", "", "write every progress event to `FILE` as one JSON line the moment it happens (0600; see docs/cli.md)")
}

// observer opens the events file, when one was asked for, and returns the observer that writes to it; the app
// closes the file after the command. The file is created 0600 and truncated: it holds this run's events.
func (e *eventsFlag) observer(a *app) ([]phase.Observer, error) {
	if e.path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(e.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the events file: %w", err)
	}
	j := phase.NewJSONLines(f)
	a.closers = append(a.closers, eventsCloser{f: f, j: j})
	return []phase.Observer{j}, nil
}

// eventsCloser closes the events file and reports the first event that could not be written.
type eventsCloser struct {
	f *os.File
	j *phase.JSONLines
}

// Close closes the file; an event that could not be written fails the command here, after the run.
func (c eventsCloser) Close() error {
	err := c.f.Close()
	if werr := c.j.Err(); werr != nil {
		return fmt.Errorf("write the events file %s: %w", c.f.Name(), werr)
	}
	if err != nil {
		return fmt.Errorf("close the events file: %w", err)
	}
	return nil
}
