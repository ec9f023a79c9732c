package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/installer"
)

func newCacheCmd(a *app) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List and prune the bundle content extracted on this machine",
		Long: `Every install and upgrade extracts its bundle's host files and image archives once on this machine, into the
staging cache (~/.cache/berth/staging/<bundle manifest digest>/), and reuses them on the next run with the same
bundle: about 1 GiB per bundle, kept until pruned. 'berth cache list' shows what is there; 'berth cache prune'
removes all but the bundles used last. Pruning a bundle an install needs again costs only the time to extract it
again. The bundle build cache (~/.cache/berth/bundle, 'berth bundle build --cache-dir') is not touched.`,
		Example: `  berth cache list
  berth cache prune --dry-run
  berth cache prune --keep 2`,
	}
	cmd.PersistentFlags().StringVar(&dir, "cache-dir", "", "the staging cache (default ~/.cache/berth/staging, or $XDG_CACHE_HOME/berth/staging)")
	cmd.AddCommand(newCacheListCmd(a, &dir), newCachePruneCmd(a, &dir))
	return cmd
}

// cacheDir is --cache-dir, or the installer's default.
func cacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return installer.DefaultCacheDir()
}

// CacheListOutput is what `berth cache list -o json|yaml` prints.
type CacheListOutput struct {
	Dir     string              `json:"dir"`
	Bundles []airgap.CacheEntry `json:"bundles"` // the most recently used first
	Bytes   int64               `json:"bytes"`
}

func newCacheListCmd(a *app, dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the bundles in the staging cache, the most recently used first, with their sizes",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := cacheDir(*dir)
			if err != nil {
				return err
			}
			entries, err := airgap.ListCaches(base)
			if err != nil {
				return err
			}
			out := CacheListOutput{Dir: base, Bundles: entries}
			for _, e := range entries {
				out.Bytes += e.Bytes
			}
			if a.machine() {
				return a.print(out)
			}
			if len(entries) == 0 {
				fmt.Fprintf(a.out, "No bundles in %s.\n", base)
				return nil
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BUNDLE\tKUBERNETES\tMANIFEST\tLAST USED\tSIZE")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cacheBundleName(e), cacheKubernetes(e), bundleShortDigest(e.Digest),
					e.LastUsed.Local().Format(time.DateTime), bundleBytes(e.Bytes))
			}
			tw.Flush()
			fmt.Fprintf(a.out, "\n%s, %s in %s\n", bundleCount(len(entries)), bundleBytes(out.Bytes), base)
			return nil
		},
	}
}

func newCachePruneCmd(a *app, dir *string) *cobra.Command {
	var keep int
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune [--keep N] [--dry-run]",
		Short: "Remove the staging cache of every bundle but the N used last",
		Long: `Removes the extracted content of every bundle in the staging cache except the --keep bundles used most
recently (an install or upgrade marks its bundle used when it starts, so the bundle of a run in progress is the
newest), and says what it removed and how many bytes that freed. --dry-run only says what would go.
Run it when no install or upgrade with an older bundle is running on this machine, or keep enough bundles.`,
		Example: `  berth cache prune --dry-run
  berth cache prune              # keep the bundle used last
  berth cache prune --keep 0     # remove everything`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keep < 0 {
				return usageError{fmt.Errorf("--keep %d: keep 0 or more bundles", keep), cmd.CommandPath()}
			}
			base, err := cacheDir(*dir)
			if err != nil {
				return err
			}
			res, err := airgap.PruneCaches(base, keep, dryRun)
			if res == nil {
				return err
			}
			if a.machine() {
				if perr := a.print(res); perr != nil {
					return perr
				}
			} else {
				printPrune(a.out, res)
			}
			if err != nil {
				return fmt.Errorf("%w\nfix the permissions and run berth cache prune again", err)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 1, "bundles to keep: the most recently used")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, remove nothing")
	return cmd
}

func printPrune(w io.Writer, res *airgap.PruneResult) {
	verb, freed := "removed", "Freed"
	if res.DryRun {
		verb, freed = "would remove", "Would free"
	}
	for _, e := range res.Removed {
		fmt.Fprintf(w, "%s %s %s (%s, last used %s)\n", verb, cacheBundleName(e), bundleShortDigest(e.Digest), bundleBytes(e.Bytes),
			e.LastUsed.Local().Format(time.DateTime))
	}
	for _, e := range res.Kept {
		fmt.Fprintf(w, "kept %s %s (%s, last used %s)\n", cacheBundleName(e), bundleShortDigest(e.Digest), bundleBytes(e.Bytes),
			e.LastUsed.Local().Format(time.DateTime))
	}
	if len(res.Removed) == 0 {
		fmt.Fprintf(w, "Nothing to remove in %s (%s, %s).\n", res.Dir, bundleCount(len(res.Kept)), bundleBytes(res.BytesAfter))
		return
	}
	fmt.Fprintf(w, "%s %s in %s; %s left in %s\n", freed, bundleBytes(res.BytesFreed), bundleCount(len(res.Removed)), bundleBytes(res.BytesAfter), res.Dir)
}

func bundleCount(n int) string {
	if n == 1 {
		return "1 bundle"
	}
	return fmt.Sprintf("%d bundles", n)
}

func cacheBundleName(e airgap.CacheEntry) string {
	if e.Bundle == nil {
		return "(unnamed)"
	}
	return e.Bundle.Name + " " + e.Bundle.Version
}

func cacheKubernetes(e airgap.CacheEntry) string {
	if e.Bundle == nil || e.Bundle.KubernetesVersion == "" {
		return "-"
	}
	return e.Bundle.KubernetesVersion
}
