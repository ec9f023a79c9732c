package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (invalid inventory, failed host)
	exitUsage   = 2 // the command line was wrong
)

// app carries what every command shares: global flags, output streams and the logger.
type app struct {
	verbosity int
	logFile   string
	output    string

	in     io.Reader
	out    io.Writer
	errOut io.Writer
	log    *slog.Logger
	closer io.Closer
}

// usageError marks errors in the command line itself; run prints a pointer to the command's help after it.
type usageError struct {
	error
	cmd string // command path, e.g. "berth inventory validate"
}

func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	a := &app{in: in, out: out, errOut: errOut}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	if a.closer != nil {
		a.closer.Close()
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(errOut, "Error:", err)
	var ue usageError
	if errors.As(err, &ue) {
		if ue.cmd != "" {
			fmt.Fprintf(errOut, "See '%s --help'.\n", ue.cmd)
		}
		return exitUsage
	}
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFailure
}

// codeError carries a specific exit code.
type codeError struct {
	error
	code int
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "Install and run Kubernetes in air-gapped data centres",
		Long: `berth installs production Kubernetes over SSH from one signed offline bundle, and keeps it running:
HA control planes behind a VIP, stacked etcd, containerd, a CNI and host-network cluster DNS, with each kind of
traffic on its own network plane. Nothing is downloaded at install time.

Typical flow:
  berth bundle verify berth-v1.31.tar          # on the air-gapped side, check what crossed the gap
  berth inventory example > inventory.yaml     # or: berth wizard
  berth inventory validate inventory.yaml
  berth preflight -i inventory.yaml
  berth install -i inventory.yaml -b berth-v1.31.tar

To rehearse on one machine: berth lab up, then install with the inventory it writes.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup() },
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err, c.CommandPath()}
	})
	f := root.PersistentFlags()
	f.IntVarP(&a.verbosity, "verbosity", "v", 1, "log detail: 0 errors only, 1 progress, 2 debug, 3 remote command output")
	f.StringVar(&a.logFile, "log-file", "", "also write a debug log to this file (created 0600)")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json")

	root.AddCommand(
		newVersionCmd(a),
		newInventoryCmd(a),
		newLabCmd(a),
		newExecCmd(a),
		newPreflightCmd(a),
		newWizardCmd(a),
		newBundleCmd(a),
		newKeygenCmd(a),
		newInstallCmd(a),
		newUpgradeCmd(a),
		newEtcdCmd(a),
		newStatusCmd(a),
		newResetCmd(a),
	)
	return root
}

// setup validates global flags and builds the logger.
func (a *app) setup() error {
	if a.output != "text" && a.output != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", a.output), "berth"}
	}
	level := slog.LevelWarn
	switch {
	case a.verbosity >= 2:
		level = slog.LevelDebug
	case a.verbosity == 1:
		level = slog.LevelInfo
	case a.verbosity <= 0:
		level = slog.LevelError
	}
	handlers := []slog.Handler{slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: level})}
	if a.logFile != "" {
		f, err := os.OpenFile(a.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		a.closer = f
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a.log = slog.New(multiHandler(handlers))
	return nil
}

// json reports whether machine-readable output was asked for.
func (a *app) json() bool { return a.output == "json" }

// printJSON writes v as indented JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
