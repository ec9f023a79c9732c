package main

import (
	"fmt"

	"github.com/berthsh/berth/internal/buildinfo"
	"github.com/spf13/cobra"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print berth's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i := buildinfo.Get()
			if a.json() {
				return a.printJSON(i)
			}
			fmt.Fprintf(a.out, "berth %s\ncommit: %s\ngo: %s\nplatform: %s\n", i.Version, i.Commit, i.GoVersion, i.Platform)
			if i.Date != "" {
				fmt.Fprintf(a.out, "built: %s\n", i.Date)
			}
			return nil
		},
	}
}
