package main

import (
	"fmt"

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
	cmd.AddCommand(newRegistrySyncCmd(a))
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
