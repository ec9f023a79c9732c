package main

import (
	"errors"
	"fmt"

	"github.com/berthsh/berth/inventory"
	"github.com/spf13/cobra"
)

func newInventoryCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Write, check and describe inventory files",
		Long: `An inventory file describes one cluster: its hosts, their NICs on each network plane, how berth reaches them
over SSH, and what runs where. Start from 'berth inventory example' or 'berth wizard'; the reference for every field
is docs/inventory.md.`,
	}
	cmd.AddCommand(newInventoryValidateCmd(a), newInventoryExampleCmd(a), newInventorySchemaCmd(a))
	return cmd
}

// InventoryValidateOutput is what `berth inventory validate -o json|yaml` prints.
type InventoryValidateOutput struct {
	File     string                 `json:"file"`
	Valid    bool                   `json:"valid"`
	Problems []InventoryProblemView `json:"problems"`
}

// InventoryProblemView is one problem of an inventory, with its severity spelt out.
type InventoryProblemView struct {
	inventory.Problem
	Severity string `json:"severity"`
}

func newInventoryValidateCmd(a *app) *cobra.Command {
	var invPath string
	cmd := &cobra.Command{
		Use:   "validate -i FILE",
		Short: "Check an inventory and report every problem with its line, field and fix",
		Long: `Checks the inventory without touching any host: syntax, unknown fields (with suggestions), types, and the
rules between fields (unique hosts and addresses, a NIC on every plane a host's roles use, inside the plane's CIDR
and on its VLAN, the VIP on its plane, networks that do not overlap, secrets only by reference), then that every
file it names on this machine (keys, known_hosts, file: secrets) exists and can be read. Every problem is reported
at once, errors first.
The inventory is -i FILE like for every command ($BERTH_INVENTORY when not given); 'validate FILE' works too.
Exits 0 when the inventory is usable (warnings allowed), 1 otherwise.`,
		Example: `  berth inventory validate -i inventory.yaml
  berth inventory validate -o json -i inventory.yaml
  BERTH_INVENTORY=inventory.yaml berth inventory validate`,
		Args: rangeArgs(0, 1, "at most one FILE (or -i FILE)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := invPath
			if len(args) == 1 {
				if cmd.Flags().Changed("inventory") && a.fromEnv["inventory"] == "" && invPath != args[0] {
					return usageError{fmt.Errorf("two inventories: -i %s and %s; give one", invPath, args[0]), cmd.CommandPath()}
				}
				path = args[0]
			}
			if path == "" {
				return usageError{errors.New("missing the inventory: -i FILE (or $" + envInventory + ")"), cmd.CommandPath()}
			}
			inv, err := inventory.LoadAndCheckFiles(path)
			var invErr *inventory.Error
			if err != nil && !errors.As(err, &invErr) {
				return err
			}
			var problems inventory.Problems
			if invErr != nil {
				problems = invErr.Problems
			} else {
				problems = inv.Warnings()
			}
			if a.machine() {
				res := InventoryValidateOutput{File: path, Valid: err == nil, Problems: []InventoryProblemView{}}
				for _, p := range problems {
					res.Problems = append(res.Problems, InventoryProblemView{p, p.Severity.String()})
				}
				if perr := a.print(res); perr != nil {
					return perr
				}
				if err != nil {
					return codeError{errors.New("inventory is not valid"), exitFailure}
				}
				return nil
			}
			if err != nil {
				return err
			}
			for _, w := range problems {
				fmt.Fprintln(a.errOut, w.String())
			}
			fmt.Fprintf(a.out, "%s: valid (%d hosts, %d control planes, planes: %v)\n", path, len(inv.Hosts),
				len(inv.ControlPlanes()), inv.NetworkPlanes.Defined())
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, false)
	return cmd
}

func newInventoryExampleCmd(a *app) *cobra.Command {
	return onlyText(&cobra.Command{
		Use:   "example",
		Short: "Print a commented example inventory with every section",
		Long: `Prints a complete, valid inventory: three control planes, two workers, two registry hosts and all four
network planes, with comments. Edit it to match your hosts.`,
		Example: `  berth inventory example > inventory.yaml`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.out.Write(inventory.Example)
			return err
		},
	})
}

func newInventorySchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of inventory files, for editors",
		Long: `Prints a JSON Schema generated from berth's inventory types (as JSON; -o yaml prints it as YAML). Point your
editor's YAML language server at it for completion and inline checks; 'berth inventory validate' applies the full
rules.`,
		Example: `  berth inventory schema > berth-inventory.schema.json
  # then in inventory.yaml:  # yaml-language-server: $schema=berth-inventory.schema.json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.print(inventory.Schema())
		},
	}
}
