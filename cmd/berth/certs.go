package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/upgrade"
)

func newCertsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check when the control planes' certificates expire, and renew them with the API answering throughout",
		Long: `kubeadm's certificates (the API server's, etcd's, the kubeconfigs of the controller manager, the scheduler and the
admin) are valid for a year; their CAs for ten. 'check-expiration' shows them on every control plane; 'renew'
renews them one control plane at a time, before they expire. Kubelets renew their own client certificates.`,
	}
	cmd.AddCommand(newCertsCheckCmd(a), newCertsRenewCmd(a))
	return cmd
}

func newCertsCheckCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var within lifetimeFlag
	cmd := &cobra.Command{
		Use:   "check-expiration -i INVENTORY [--fail-within D]",
		Short: "Show when each of kubeadm's certificates expires on every control plane",
		Long: `Reads kubeadm's certificates on every control plane over SSH (never a private key: from kubeconfigs only the
certificate) and shows, for each, when it expires, the time left and the CA that signed it, and marks a certificate
renewed on disk that the component using it has not loaded yet (it loads certificates when it starts: berth certs
renew restarts it). Needs no API, so it also works on a cluster whose certificates expired. Changes nothing.

--fail-within D exits 1 when any certificate expires within D (30d, 720h), for a monitoring job to run daily;
exits 1 as well when a control plane could not be read.`,
		Example: `  berth certs check-expiration -i inventory.yaml
  berth certs check-expiration -i inventory.yaml --fail-within 30d -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			certs, err := upgrade.CheckExpiration(cmd.Context(), upgrade.CertsOptions{Inventory: inv, StateDir: stateDir, Logger: a.log,
				Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}})
			if certs != nil {
				if a.machine() {
					if perr := a.print(certs); perr != nil {
						return perr
					}
				} else {
					printCertificates(a.out, certs)
				}
			}
			if err != nil {
				return err
			}
			if within.d > 0 {
				if host, c := certs.Soonest(); c != nil && time.Until(c.NotAfter) < within.d {
					return codeError{fmt.Errorf("%s on %s expires %s, within %s: run berth certs renew -i %s", c.Name, host,
						c.NotAfter.UTC().Format(time.RFC3339), within.String(), invPath), exitFailure}
				}
			}
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	cmd.Flags().Var(&within, "fail-within", "exit 1 when a certificate expires within this time (30d, 720h)")
	return cmd
}

// printCertificates prints one table of every control plane's certificates.
func printCertificates(w io.Writer, certs *upgrade.Certificates) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCERTIFICATE\tEXPIRES\tRESIDUAL TIME\tAUTHORITY\tNOTE")
	for _, h := range certs.Hosts {
		if h.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tnot read: %s\n", h.Host, firstLine(h.Error))
			continue
		}
		for _, c := range h.Certificates {
			note := ""
			switch {
			case c.CA:
				note = "CA (not renewed by berth certs renew)"
			case c.Stale:
				note = "renewed on disk; " + c.UsedBy + " still uses the one before (berth certs renew restarts it)"
			}
			authority := c.Authority
			if authority == "" {
				authority = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Host, c.Name, c.NotAfter.UTC().Format("2006-01-02 15:04 MST"), c.Residual, authority, note)
		}
	}
	tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// RenewOutput is what berth certs renew prints with -o json|yaml.
type RenewOutput struct {
	Cluster     string                `json:"cluster"`
	DryRun      bool                  `json:"dryRun"`
	ChangesMade int                   `json:"changesMade"`
	Resumed     bool                  `json:"resumed"`
	Duration    string                `json:"duration"`
	Before      *upgrade.Certificates `json:"before,omitempty"`
	After       *upgrade.Certificates `json:"after,omitempty"`
	Kubeconfig  string                `json:"kubeconfig,omitempty"`
	Phases      []phase.PhaseResult   `json:"phases"`
	Plan        *phase.Plan           `json:"plan,omitempty"` // --dry-run: every change and wait
	Error       string                `json:"error,omitempty"`
}

func newCertsRenewCmd(a *app) *cobra.Command {
	var invPath, stateDir string
	var yes, dryRun bool
	var events eventsFlag
	cmd := &cobra.Command{
		Use:   "renew -i INVENTORY",
		Short: "Renew kubeadm's certificates on every control plane, one at a time, with the API answering throughout",
		Long: `Checks first that every etcd member is healthy, the API answers through the VIP and no certificate has expired
(nothing changes otherwise), then, one control plane at a time:
  1. takes it out of every control plane's haproxy (no new API connection goes to its API server) and hands etcd's
     leadership to another member if its member leads;
  2. runs kubeadm certs renew all there (every certificate and kubeconfig kubeadm made, for another year; the
     CAs stay), as a systemd unit that finishes even if berth is stopped;
  3. restarts its API server, controller manager, scheduler and etcd with SIGTERM, so that they load the new
     certificates (each finishes its work; the kubelet starts it again), and waits until they run with them, its API
     server answers and its etcd member is healthy;
  4. puts it back into haproxy and waits until the API answers through the VIP.
Then the admin kubeconfig in the cluster's state directory is refreshed (its certificate was renewed too).
Progress is journaled: if berth is stopped, run the same command again and it resumes; once a renewal finished,
running it again renews again. Asks first unless --yes. --events FILE writes every progress event as one JSON line
as it happens.`,
		Example: `  berth certs renew -i inventory.yaml --dry-run
  berth certs renew -i inventory.yaml --yes`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, raw, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			obs, err := events.observer(a)
			if err != nil {
				return err
			}
			if !yes && !dryRun {
				if err := confirm(cmd, a, fmt.Sprintf("Renew the certificates of cluster %s (%s) on %d control planes, restarting each one's control plane in turn?",
					inv.Metadata.Name, inv.Metadata.Environment, len(inv.ControlPlanes()))); err != nil {
					return err
				}
			}
			res, err := upgrade.RenewCertificates(cmd.Context(), upgrade.CertsOptions{Inventory: inv, InventoryBytes: raw, StateDir: stateDir,
				DryRun: dryRun, Logger: a.log, Command: "berth certs renew",
				Observers: append([]phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}, obs...)})
			return printRenew(a, inv.Metadata.Name, dryRun, res, err)
		},
	}
	inventoryFlag(cmd, &invPath, true)
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "base directory of cluster state (journal, lock, kubeconfig); default ~/.local/state/berth")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print every change and wait the renewal would make, change nothing")
	events.register(cmd)
	return cmd
}

func printRenew(a *app, cluster string, dryRun bool, res *upgrade.RenewResult, err error) error {
	if res != nil && res.Report != nil {
		rep := res.Report
		switch {
		case a.machine():
			out := RenewOutput{Cluster: cluster, DryRun: dryRun, ChangesMade: rep.Made, Resumed: rep.Resumed, Duration: rep.Duration.Round(time.Second).String(),
				Before: res.Before, After: res.After, Kubeconfig: res.Kubeconfig, Phases: rep.Phases}
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
		case err == nil:
			fmt.Fprintf(a.out, "Certificates of %s renewed on every control plane (%d changes in %s).\n", cluster, rep.Made, rep.Duration.Round(time.Second))
			if res.After != nil {
				if host, c := res.After.Soonest(); c != nil {
					fmt.Fprintf(a.out, "The first to expire now: %s on %s, %s (in %s).\n", c.Name, host, c.NotAfter.UTC().Format(time.DateOnly), c.Residual)
				}
			}
			if res.Kubeconfig != "" {
				fmt.Fprintf(a.out, "Admin kubeconfig: %s\n", res.Kubeconfig)
			}
		}
	}
	if err != nil {
		var locked *phase.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("%w\nanother berth run holds the cluster; wait for it, or if it is gone, run again (a lock whose holder died is taken over)", err)
		}
		return fmt.Errorf("renew the certificates of %s: %w\nrun the same command again to resume once the cause is fixed", cluster, err)
	}
	return nil
}
