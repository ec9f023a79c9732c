package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/buildinfo"
	"github.com/berthsh/berth/inventory"
)

// VersionOutput is what `berth version -o json|yaml` prints: the binary, and what it can work with.
type VersionOutput struct {
	buildinfo.Info
	KubernetesMinors    []string `json:"kubernetesMinors"`    // the minors berth installs and upgrades to
	BundleAPIVersion    string   `json:"bundleAPIVersion"`    // the bundle manifests it reads
	InventoryAPIVersion string   `json:"inventoryAPIVersion"` // the inventories it reads
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print berth's version and the Kubernetes releases, bundles and inventories it works with",
		Long: `Prints berth's semantic version (v0.1.0-dev for a build without a release tag), its commit, Go version and
platform, the Kubernetes minor releases it installs and upgrades to, and the apiVersion of the bundle manifests
and inventories it reads. 'berth --version' prints the version alone.`,
		Example: `  berth version
  berth version -o json | jq -r .version`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := VersionOutput{Info: buildinfo.Get(), KubernetesMinors: installer.KubernetesMinors(),
				BundleAPIVersion: bundles.APIVersion, InventoryAPIVersion: inventory.APIVersion}
			if a.machine() {
				return a.print(v)
			}
			commit := v.Commit
			if v.Dirty {
				commit += " (with uncommitted changes)"
			}
			fmt.Fprintf(a.out, "berth %s\n", v.Version)
			fmt.Fprintf(a.out, "commit:     %s\n", commit)
			if v.Date != "" {
				fmt.Fprintf(a.out, "built:      %s\n", v.Date)
			}
			fmt.Fprintf(a.out, "go:         %s\nplatform:   %s\n", v.GoVersion, v.Platform)
			fmt.Fprintf(a.out, "kubernetes: %s (installs these minors and upgrades to them)\n", strings.Join(v.KubernetesMinors, ", "))
			fmt.Fprintf(a.out, "bundles:    %s\ninventory:  %s\n", v.BundleAPIVersion, v.InventoryAPIVersion)
			return nil
		},
	}
}
