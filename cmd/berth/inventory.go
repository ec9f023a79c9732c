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

func newInventoryValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check an inventory and report every problem with its line, field and fix",
		Long: `Checks the inventory without touching any host: syntax, unknown fields (with suggestions), types, and the
rules between fields (unique hosts and addresses, a NIC on every plane inside the plane's CIDR, the VIP on its plane,
networks that do not overlap, secrets only by reference). Every problem is reported at once.
Exits 0 when the inventory is usable (warnings allowed), 1 otherwise.`,
		Example: `  berth inventory validate inventory.yaml
  berth inventory validate -o json inventory.yaml`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := inventory.Load(args[0])
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
			if a.json() {
				type entry struct {
					inventory.Problem
					Severity string `json:"severity"`
				}
				res := struct {
					File     string  `json:"file"`
					Valid    bool    `json:"valid"`
					Problems []entry `json:"problems"`
				}{File: args[0], Valid: err == nil, Problems: []entry{}}
				for _, p := range problems {
					res.Problems = append(res.Problems, entry{p, p.Severity.String()})
				}
				if perr := a.printJSON(res); perr != nil {
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
			fmt.Fprintf(a.out, "%s: valid (%d hosts, %d control planes, planes: %v)\n", args[0], len(inv.Hosts),
				len(inv.ControlPlanes()), inv.NetworkPlanes.Defined())
			return nil
		},
	}
}

func newInventoryExampleCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print a commented example inventory with every section",
		Long: `Prints a complete, valid inventory: three control planes, two workers, two registry hosts and all four
network planes, with comments. Edit it to match your hosts.`,
		Example: `  berth inventory example > inventory.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.out.Write(inventory.Example)
			return err
		},
	}
}

func newInventorySchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of inventory files, for editors",
		Long: `Prints a JSON Schema generated from berth's inventory types. Point your editor's YAML language server at it
for completion and inline checks; 'berth inventory validate' applies the full rules.`,
		Example: `  berth inventory schema > berth-inventory.schema.json
  # then in inventory.yaml:  # yaml-language-server: $schema=berth-inventory.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.printJSON(inventory.Schema())
		},
	}
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s (got %d arguments)", cmd.CommandPath(), names, len(args)), cmd.CommandPath()}
		}
		return nil
	}
}
