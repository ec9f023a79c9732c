package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/internal/buildinfo"
)

// Exit codes: scripts can trust them.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (invalid inventory, failed host)
	exitUsage   = 2 // the command line was wrong: unknown command or flag, missing flag, wrong arguments
)

// envInventory names the inventory when -i is not given.
const envInventory = "BERTH_INVENTORY"

// app carries what every command shares: global flags, output streams and the logger.
type app struct {
	verbosity int
	logFile   string
	output    string
	fromEnv   map[string]string // flags given by the environment (annotationEnv): flag name -> variable

	in      io.Reader
	out     io.Writer
	errOut  io.Writer
	log     *slog.Logger
	logOut  *os.File    // the --log-file, for the wizard's logger
	closers []io.Closer // closed after the command, last opened first
}

// usageError marks errors in the command line itself; run prints a pointer to the command's help after it and
// exits 2.
type usageError struct {
	error
	cmd string // command path, e.g. "berth inventory validate"
}

func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	a := &app{in: in, out: out, errOut: errOut}
	root := newRootCmd(a)
	root.SetArgs(verbosityArgs(args))
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	warnOnStderr(root, errOut)
	err := root.ExecuteContext(ctx)
	for _, c := range slices.Backward(a.closers) {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = cerr
		}
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

// warnOnStderr sends what the flag parser says about deprecated flags to errOut. cobra would print it with the
// command's output, where it breaks `-o json` for a script still using an old flag name.
func warnOnStderr(c *cobra.Command, errOut io.Writer) {
	c.Flags().SetOutput(errOut)
	c.PersistentFlags().SetOutput(errOut)
	for _, sub := range c.Commands() {
		warnOnStderr(sub, errOut)
	}
}

// codeError carries a specific exit code.
type codeError struct {
	error
	code int
}

func newRootCmd(a *app) *cobra.Command {
	info := buildinfo.Get()
	root := &cobra.Command{
		Use:   "berth",
		Short: "Install and run Kubernetes in air-gapped data centres",
		Long: `berth installs production Kubernetes over SSH from one signed offline bundle, and keeps it running:
HA control planes behind a VIP, stacked etcd, containerd, a CNI and host-network cluster DNS, with each kind of
traffic on its own network plane. Nothing is downloaded at install time.

Typical flow:
  berth bundle verify berth-v1.31.tar          # on the air-gapped side, check what crossed the gap
  berth inventory example > inventory.yaml     # or: berth wizard
  berth inventory validate -i inventory.yaml
  berth preflight -i inventory.yaml
  berth install -i inventory.yaml -b berth-v1.31.tar

Conventions: -i is the inventory (default $BERTH_INVENTORY), -o the output format (text, json, yaml), --out a
file a command writes. Exit codes: 0 success, 1 the operation failed, 2 the command line is wrong.

To rehearse on one machine: berth lab up, then install with the inventory it writes.`,
		Version:           info.Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	root.SetVersionTemplate(fmt.Sprintf("berth %s (commit %s)\n", info.Version, shortCommit(info.Commit)))
	f := root.PersistentFlags()
	f.IntVarP(&a.verbosity, "verbosity", "v", 1, "log detail: 0 errors only, 1 progress, 2 debug (-v alone), 3 remote command output")
	f.Lookup("verbosity").NoOptDefVal = "2"
	f.StringVar(&a.logFile, "log-file", "", "also write a debug log to this file (created 0600)")
	f.StringVarP(&a.output, "output", "o", formatText, "output `FORMAT`: text, json or yaml")
	root.RegisterFlagCompletionFunc("output", completeOutput)
	root.RegisterFlagCompletionFunc("verbosity", cobra.FixedCompletions([]cobra.Completion{"0", "1", "2", "3"}, cobra.ShellCompDirectiveNoFileComp))

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
		newKubeconfigCmd(a),
		newImagesCmd(a),
		newRegistryCmd(a),
		newCertsCmd(a),
		newNodeCmd(a),
		newStatusCmd(a),
		newResetCmd(a),
		newCacheCmd(a),
	)
	root.SetHelpCommand(newHelpCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	walk(root, func(c *cobra.Command) {
		if c.Name() == "completion" || c.HasParent() && c.Parent().Name() == "completion" {
			onlyText(c)
			if !c.HasSubCommands() {
				c.Args = exactArgs(0, "no arguments")
			}
		}
	})
	applyConventions(root)
	return root
}

// shortCommit abbreviates a git commit to 12 characters.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// setup applies the environment's defaults, checks the command line and builds the logger; it runs before every
// command.
func (a *app) setup(cmd *cobra.Command) error {
	if err := a.applyEnv(cmd); err != nil {
		return err
	}
	if err := a.checkOutput(cmd); err != nil { // first: -o FILE may stand for a required file flag
		return err
	}
	if err := checkRequired(cmd); err != nil {
		return err
	}
	if a.verbosity < 0 {
		return usageError{fmt.Errorf("-v %d: the verbosity is 0, 1, 2 or 3", a.verbosity), cmd.CommandPath()}
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
		a.logOut = f
		a.closers = append(a.closers, f)
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a.log = slog.New(multiHandler(handlers))
	return nil
}
