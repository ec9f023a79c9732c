package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/tui"
)

func newWizardCmd(a *app) *cobra.Command {
	var output, from, bundle string
	var trust trustFlags
	cmd := onlyText(&cobra.Command{
		Use:   "wizard [-i existing.yaml] [--out inventory.yaml]",
		Short: "Build an inventory interactively, test SSH, discover NICs, then preflight and install",
		Long: `A terminal wizard for the engineer at the console. Page by page it asks for the cluster's name and
environment, how to reach the hosts over SSH (and tests it live), the hosts and their roles, the network planes,
then shows each host's interfaces discovered over SSH with the right one already chosen for every plane (by CIDR).
It suggests a free VIP, asks for the DNS upstreams, optional registries and storage, and shows the inventory as it
will be written with every validation problem on the field that fixes it. It never overwrites a file without
asking. After writing it can run the preflight checks as a live checklist, and start the install.

-i edits an existing inventory and keeps every field it has, including those no page shows (tenants, OpenStack,
labels, Trident back ends); YAML comments are not kept. The wizard writes the -i file unless --out names another;
without -i it starts a new inventory ($BERTH_INVENTORY does not apply: the wizard creates files).

Keys: tab/shift+tab or ↑/↓ move between fields, enter goes on, ←/→ choose, esc goes back a page, ctrl+c quits
without writing. The wizard needs a terminal; without one use the unattended path: 'berth inventory example' to
start a file, 'berth inventory validate', then 'berth install -i FILE'.`,
		Example: `  berth wizard                               # new inventory.yaml in the current directory
  berth wizard --out /srv/berth/payments-uat.yaml
  berth wizard -i payments-uat.yaml          # edit; asks before overwriting it
  berth wizard -i lab/inventory.yaml --out copy.yaml -b berth-v1.31.4.tar --key bundle.pub`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isTerminal(a.in) || !isTerminal(a.out) {
				return codeError{errors.New("berth wizard needs a terminal (stdin and stdout are not one).\n" +
					"Unattended: berth inventory example > inventory.yaml; edit it; berth inventory validate -i inventory.yaml;\n" +
					"then berth preflight -i inventory.yaml and berth install -i inventory.yaml -b BUNDLE"), exitUsage}
			}
			opts, err := wizardOptions(a, output, from, bundle)
			if err != nil {
				return err
			}
			verify, err := trust.options(a)
			if err != nil {
				return err
			}
			verify.Logger = opts.Logger
			opts.Installer = engineInstaller{log: opts.Logger, verify: verify}
			opts.Context = cmd.Context()
			m := tui.New(opts)
			progOpts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(cmd.Context()), tea.WithOutput(a.out)}
			if f, ok := a.in.(*os.File); ok {
				progOpts = append(progOpts, tea.WithInput(f))
			}
			if _, err := tea.NewProgram(m, progOpts...).Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
				return fmt.Errorf("run wizard: %w", err)
			}
			return reportWizard(a.out, m.Result())
		},
	})
	f := cmd.Flags()
	f.StringVar(&output, "out", "", "inventory `FILE` to write (default inventory.yaml, or the -i file)")
	// Not inventoryFlag: $BERTH_INVENTORY must not turn "make a new inventory" into "edit that one".
	f.StringVarP(&from, "inventory", "i", "", "existing inventory `FILE` to edit; every field is kept")
	cmd.MarkFlagFilename("inventory", "yaml", "yml")
	f.StringVarP(&bundle, "bundle", "b", "", "bundle to suggest on the install page")
	trust.register(cmd, false)
	return cmd
}

// wizardOptions reads --from and wires the wizard to the engine.
func wizardOptions(a *app, output, from, bundle string) (tui.Options, error) {
	log := wizardLogger(a)
	opts := tui.Options{Output: output, Bundle: bundle, Logger: log,
		Discoverer:  sshDiscoverer{log: log},
		Preflighter: enginePreflight{log: log},
		Files:       osFiles{}}
	if from != "" {
		data, err := inventory.ReadFile(from)
		if err != nil {
			return opts, fmt.Errorf("-i: %w", err)
		}
		inv, problems := inventory.Parse(from, data)
		if errs := problems.Errors(); len(errs) > 0 {
			// Decoding problems (syntax, unknown fields) would lose what the file says: fix them in the file first.
			return opts, &inventory.Error{File: from, Problems: errs}
		}
		opts.Inventory = inv
		if opts.Output == "" {
			opts.Output = from
		}
	}
	if opts.Output == "" {
		opts.Output = "inventory.yaml"
	}
	abs, err := filepath.Abs(opts.Output)
	if err != nil {
		return opts, fmt.Errorf("resolve output path: %w", err)
	}
	opts.Dir = filepath.Dir(abs)
	return opts, nil
}

// wizardLogger logs to the --log-file only: the terminal belongs to the wizard.
func wizardLogger(a *app) *slog.Logger {
	if a.logOut != nil {
		return slog.New(slog.NewJSONHandler(a.logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func reportWizard(w io.Writer, r tui.Result) error {
	if r.Written == "" {
		return codeError{errors.New("quit without writing an inventory"), exitFailure}
	}
	fmt.Fprintf(w, "wrote %s\n", r.Written)
	if r.Preflight != "" {
		fmt.Fprintf(w, "preflight: %s\n", r.Preflight)
	}
	if r.Installed != "" {
		fmt.Fprintf(w, "install: %s\n", r.Installed)
	}
	if r.Installed == "failed" {
		return codeError{errors.New("install failed"), exitFailure}
	}
	return nil
}

func isTerminal(v any) bool {
	f, ok := v.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}

// osFiles writes the inventory: 0644 (an inventory holds no secrets), atomically, never over a file unasked.
type osFiles struct{}

// WriteFile writes through a temporary file in the same directory; without overwrite an existing file is an
// ErrExists, checked again at the moment of linking the new file into place.
func (osFiles) WriteFile(path string, data []byte, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return tui.ErrExists
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("check %s: %w", path, err)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !overwrite {
		// Link fails if the file appeared meanwhile, so a file created since the check is not replaced either.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return tui.ErrExists
			}
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
