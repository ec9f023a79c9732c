package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/berthsh/berth/bundles"
	"github.com/spf13/cobra"
)

func newBundleDiffCmd(a *app) *cobra.Command {
	var trust trustFlags
	cmd := &cobra.Command{
		Use:   "diff FROM TO",
		Short: "Show what upgrading from one bundle to another changes, and the bytes that would move",
		Long: `Compares the manifests of two bundles: Kubernetes and component versions, images (by digest), Debian
packages, charts and host binaries; then, per component, how many files and bytes of TO are new (not already in
FROM, by sha256), with the total: what a patch bundle of TO against FROM carries (berth bundle delta), and what an
upgrade must stage on hosts that have FROM. Only the manifests are read.`,
		Example: `  berth bundle diff lab-v1.31.tar lab-v1.32.tar
  berth bundle diff lab-v1.31.tar lab-v1.32.tar -o json`,
		Args: exactArgs(2, "FROM TO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := trust.options(a)
			if err != nil {
				return err
			}
			from, err := bundles.ReadHeader(args[0], opts)
			if err != nil {
				return err
			}
			to, err := bundles.ReadHeader(args[1], opts)
			if err != nil {
				return err
			}
			d := bundles.Compare(from.Manifest, to.Manifest)
			if a.machine() {
				return a.print(d)
			}
			printDiff(a.out, d)
			return nil
		},
	}
	trust.register(cmd, false)
	return cmd
}

func printDiff(out io.Writer, d *bundles.Diff) {
	fmt.Fprintf(out, "From %s to %s\n", d.From, d.To)
	if d.Empty() {
		fmt.Fprintln(out, "No changes.")
	}
	if tg := d.Target; tg.From != tg.To {
		fmt.Fprintf(out, "Target %s -> %s: the new bundle is for other hosts\n", tg.From, tg.To)
	}
	k := d.KubernetesVersion
	if k.From != k.To {
		fmt.Fprintf(out, "Kubernetes %s -> %s\n", k.From, k.To)
	}
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	section := func(title string, changes []bundles.Change, short bool) {
		if len(changes) == 0 {
			return
		}
		fmt.Fprintf(tw, "\n%s\tFROM\tTO\n", title)
		for _, c := range changes {
			f, t := c.From, c.To
			if short {
				f, t = bundleShortDigest(f), bundleShortDigest(t)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, bundleOrDash(f, "(new)"), bundleOrDash(t, "(removed)"))
		}
	}
	section("COMPONENT", d.Components, false)
	section("IMAGE", d.Images, true)
	section("PACKAGE", d.Packages, false)
	section("CHART", d.Charts, false)
	section("FILE", d.Files, true)
	unchanged, header := 0, false
	for _, c := range d.ByComponent {
		if c.NewFiles == 0 {
			unchanged++
			continue
		}
		if !header {
			fmt.Fprintln(tw, "\nMOVES (BY COMPONENT)\tNEW FILES\tBYTES TO MOVE\tOF")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%d of %d\t%s\t%s\n", c.Component, c.NewFiles, c.Files, bundleBytes(c.BytesToMove), bundleBytes(c.Bytes))
	}
	if header && unchanged > 0 {
		fmt.Fprintf(tw, "(%d more components: nothing to move)\n", unchanged)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nBytes to move: %s of %s (%s already present in the old bundle): what a patch bundle "+
		"(berth bundle delta) carries, and what hosts holding the old bundle receive\n",
		bundleBytes(d.BytesToMove), bundleBytes(d.BytesTotal), bundleBytes(d.BytesShared))
}
