package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

func newImagesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Move application images that crossed the gap into a User registry",
	}
	cmd.AddCommand(newImagesPushCmd(a))
	return cmd
}

func newImagesPushCmd(a *app) *cobra.Command {
	var invPath, stateDir, registry string
	cmd := &cobra.Command{
		Use:   "push -i INVENTORY --registry NAME ARCHIVE...",
		Short: "Push images from archives into a User registry, every replica, each digest read back",
		Long: `Pushes every image of each ARCHIVE into the inventory's User registry NAME: a docker archive (docker save,
podman save, skopeo copy ... docker-archive:FILE) or an OCI image layout directory whose images are named with full
references (org.opencontainers.image.ref.name). Each image goes to every replica of the registry under each of its
names, kept under the registry it is named after (docker.io/team/app:1 is served as REGISTRY/docker.io/team/app:1),
so that nodes pulling docker.io/team/app:1 find it through their mirror configuration. A replica is read first
and only what it lacks is sent; then every digest is read back from every replica.

The push goes to each replica's push listener (the registry's pushPort) over TLS from the registry CA, through the
replica host's SSH connection, with the registry's push credentials, which berth install made and keeps in the
state directory (registry/NAME.password, 0600); they are never printed. An image named after a registry that
NAME does not mirror is refused before anything is sent (nodes would not find it), and so is a System registry:
only berth fills it, from a bundle.`,
		Example: `  docker save registry.example/payments/api:2.4.1 -o api.tar        # on the connected side
  berth images push -i inventory.yaml --registry user api.tar
  berth images push -i inventory.yaml --registry user ./oci-layout -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("give at least one ARCHIVE (a docker archive or an OCI layout directory)"), cmd.CommandPath()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			res, err := installer.PushImageArchives(cmd.Context(), installer.ImagesPushOptions{Inventory: inv, StateDir: stateDir,
				Registry: registry, Archives: args, Logger: a.log,
				Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}})
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(res)
			}
			var refs []string
			for _, im := range res.Images {
				refs = append(refs, strings.Join(im.Refs, ", "))
			}
			var sent int64
			for _, r := range res.Pushes {
				sent += r.Sent
			}
			fmt.Fprintf(a.out, "Registry %s serves %d images on each of its %d replicas (%s sent): %s\n", res.Registry, len(res.Images),
				len(res.Replicas), airgap.HumanBytes(sent), strings.Join(refs, "; "))
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	f.StringVar(&registry, "registry", "", "the inventory's User registry to push to (its name)")
	cmd.MarkFlagRequired("registry")
	return cmd
}
