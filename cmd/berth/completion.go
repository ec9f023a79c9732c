package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
)

// Shell completion of flag values and arguments (berth completion bash|zsh|fish|powershell installs it). Each
// function only reads: the inventory named by -i or $BERTH_INVENTORY, a lab's inventory. A file that cannot be
// read completes nothing rather than failing.

// completeOutput offers the -o formats of the command being completed.
func completeOutput(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	desc := map[string]string{formatText: "for people", formatJSON: "for programs", formatYAML: "for programs and people"}
	var out []cobra.Completion
	for _, f := range formats(cmd) {
		if strings.HasPrefix(f, toComplete) {
			out = append(out, cobra.CompletionWithDesc(f, desc[f]))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeList completes a comma-separated list of names: the word after the last comma, skipping names already
// in the list.
func completeList(names func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return listCompletions(names(), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func listCompletions(names []string, toComplete string) []cobra.Completion {
	prefix, word := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix, word = toComplete[:i+1], toComplete[i+1:]
	}
	chosen := strings.Split(prefix, ",")
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, word) && !slices.Contains(chosen, n) {
			out = append(out, prefix+n)
		}
	}
	return out
}

// completionInventory reads the inventory the command line names (-i, else $BERTH_INVENTORY) leniently: an
// inventory with problems still gives its hosts. nil when there is none or it cannot be read.
func completionInventory(cmd *cobra.Command) *inventory.Inventory {
	path, _ := cmd.Flags().GetString("inventory")
	if path == "" {
		path = os.Getenv(envInventory)
	}
	if path == "" {
		return nil
	}
	data, err := inventory.ReadFile(path)
	if err != nil {
		return nil
	}
	inv, _ := inventory.Parse(path, data)
	return inv
}

func completeHosts(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	inv := completionInventory(cmd)
	if inv == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	return listCompletions(names, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeRoles offers the roles the inventory's hosts have, or every role when there is no inventory.
func completeRoles(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var roles []string
	if inv := completionInventory(cmd); inv != nil {
		for _, r := range inventory.AllRoles {
			for _, h := range inv.Hosts {
				if slices.Contains(h.Roles, r) {
					roles = append(roles, string(r))
					break
				}
			}
		}
	}
	if len(roles) == 0 {
		for _, r := range inventory.AllRoles {
			roles = append(roles, string(r))
		}
	}
	return listCompletions(roles, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// labHostNames lists the hosts of a lab from the inventory in its directory, without Docker.
func labHostNames(name, stateDir string) []string {
	if name == "" {
		name = lab.DefaultName
	}
	if stateDir == "" {
		var err error
		if stateDir, err = lab.DefaultStateDir(); err != nil {
			return nil
		}
	}
	path := filepath.Join(stateDir, name, "inventory.yaml")
	data, err := inventory.ReadFile(path)
	if err != nil {
		return nil
	}
	inv, _ := inventory.Parse(path, data)
	if inv == nil {
		return nil
	}
	var out []string
	for _, h := range inv.Hosts {
		out = append(out, h.Name)
	}
	return out
}
