package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

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

// lifetimeFlag is a duration that also takes days, the way certificate lifetimes are said: 30d, 1d12h, 12h, 90m.
type lifetimeFlag struct{ d time.Duration }

func (f *lifetimeFlag) String() string {
	if f.d == 0 {
		return "0"
	}
	switch {
	case f.d >= 48*time.Hour && f.d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", f.d/(24*time.Hour))
	case f.d%time.Hour == 0:
		return fmt.Sprintf("%dh", f.d/time.Hour)
	case f.d%time.Minute == 0:
		return fmt.Sprintf("%dm", f.d/time.Minute)
	}
	return f.d.String()
}

func (f *lifetimeFlag) Type() string { return "duration" }

func (f *lifetimeFlag) Set(s string) error {
	d, err := parseLifetime(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

// parseLifetime reads "30d", "1d12h" or anything time.ParseDuration reads; it must not be negative.
func parseLifetime(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: days are a whole number, as in 30d or 1d12h", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("%q: a duration is like 30d, 1d12h, 12h or 90m", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: a lifetime is not negative", s)
	}
	return days + d, nil
}
