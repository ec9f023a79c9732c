package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

func newRegistryCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Copy images between the inventory's registries",
	}
	cmd.AddCommand(newRegistrySyncCmd(a), newRegistrySyncServiceCmd(a))
	return cmd
}

func newRegistrySyncServiceCmd(a *app) *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "sync-service --config FILE",
		Short: "Keep a User registry's replicas in step (run by systemd on the registry's hosts)",
		Long: `Runs the sync service of a User registry on one of its hosts, as the unit berth-registry-NAME-sync does: berth
install puts this binary, the configuration (0600: it holds the registry's push credentials) and the unit there.

The registry's push listener on this host reports every push to the service (its notifications, on loopback);
within a fraction of a second the service copies what any replica serves and another lacks, by digest: only the
blobs that replica lacks cross, and every copied tag is read back. Every period (the configuration's "every") it
does the same round unasked, which brings back a replica that was stopped or cut off. A tag that two replicas serve
with different digests is reported in the journal and left alone: push it again. Runs until stopped.`,
		Example: `  systemctl status berth-registry-user-sync
  journalctl -u berth-registry-user-sync`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := airgap.LoadSyncConfig(config)
			if err != nil {
				return err
			}
			svc, err := cfg.Service(a.log.With("registry", cfg.Registry))
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
			go srv.Serve(l)
			defer srv.Close()
			a.log.Info("sync service started", "registry", cfg.Registry, "listen", cfg.Listen, "replicas", len(cfg.Replicas), "every", cfg.Every)
			return svc.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the service's configuration (JSON, written by berth install, mode 0600)")
	cmd.MarkFlagRequired("config")
	return cmd
}

func newRegistrySyncCmd(a *app) *cobra.Command {
	var invPath, stateDir, from, to string
	var images []string
	cmd := &cobra.Command{
		Use:   "sync -i INVENTORY --from NAME --to NAME [--image REF]...",
		Short: "Copy images from one registry to every replica of a User registry, each digest read back",
		Long: `Copies images between two registries of the inventory: read from the first replica of --from that answers,
anonymously on its plane listener, as a node pulls; pushed to every replica of --to (a User registry) through its
push listener with the registry's credentials from the state directory, only the blobs each replica lacks; then every
digest is read back from every replica. Images are named as the registries keep them, after the registry they come
from (registry.k8s.io/pause:3.10, docker.io/library/nginx:1.27); without --image, everything --from serves is
copied. A System registry is refused as --to: only berth fills it, from a bundle. Changes no host.`,
		Example: `  berth registry sync -i inventory.yaml --from system --to user --image registry.k8s.io/pause:3.10
  berth registry sync -i prod.yaml --from user-dc1 --to user-dc2 -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			res, err := installer.SyncRegistries(cmd.Context(), installer.RegistrySyncOptions{Inventory: inv, StateDir: stateDir,
				From: from, To: to, Images: images, Logger: a.log,
				Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}})
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(res)
			}
			var sent int64
			for _, p := range res.Pushes {
				sent += p.Sent
			}
			fmt.Fprintf(a.out, "Registry %s serves the %d images of %s (read from %s) on each of its %d replicas (%s sent)\n",
				res.To, len(res.Images), res.From, res.Source, len(res.Pushes), airgap.HumanBytes(sent))
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	f.StringVar(&from, "from", "", "the registry to copy from (its name in the inventory)")
	f.StringVar(&to, "to", "", "the User registry to copy to (its name in the inventory)")
	f.StringArrayVar(&images, "image", nil, "an image to copy, as the registries name it (repeat); default: all of --from's")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("to")
	return cmd
}
