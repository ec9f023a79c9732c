package main

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/bundles/build"
	"github.com/berthsh/berth/internal/buildinfo"
	"github.com/spf13/cobra"
)

func newBundleCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build, verify, inspect and compare offline bundles",
		Long: `A bundle is the one file that crosses the air gap: a zstd-compressed tar holding a signed manifest, the
host binaries (kubeadm, kubelet, kubectl, CNI plugins), every image in one OCI layout, the Debian packages with
all their dependencies, and charts. Build it on a connected machine from a spec, verify it on the other side.
A patch bundle (berth bundle delta, or build --base) carries only what an older bundle lacks; it is verified and
installed together with that older bundle (--base). The format is described in docs/bundle-format.md.`,
	}
	cmd.AddCommand(newBundleBuildCmd(a), newBundleVerifyCmd(a), newBundleInspectCmd(a), newBundleDiffCmd(a), newBundleDeltaCmd(a))
	return cmd
}

// BundleBuildOutput is what `berth bundle build -o json|yaml` prints.
type BundleBuildOutput struct {
	Output          string           `json:"output"` // the bundle file written
	ManifestDigest  string           `json:"manifestDigest"`
	Base            *bundles.BaseRef `json:"base,omitempty"` // the bundle it is a patch of
	CompressedBytes int64            `json:"compressedBytes"`
	PayloadBytes    int64            `json:"payloadBytes"`
	Seconds         float64          `json:"seconds"`
}

func newBundleBuildCmd(a *app) *cobra.Command {
	var opts build.Options
	var signKey, base string
	var trust trustFlags
	cmd := &cobra.Command{
		Use:   "build -f SPEC --out BUNDLE",
		Short: "Build a bundle from a spec (Go sources, Debian packages, registries, files, charts)",
		Long: `Builds every source of the spec through the build cache (~/.cache/berth/bundle unless --cache-dir), then
writes the bundle to --out. Go commands are compiled from the module proxy at the spec's versions; Debian packages
are resolved with the dependencies a minimal host lacks, from the apt sources of this machine; images are pulled or
assembled. A second build of an unchanged spec reuses everything and takes well under a minute, and the same
spec always gives the same file and image digests (only provenance.buildTime differs; set SOURCE_DATE_EPOCH to
fix it too).

With --base OLD the release is built in full, then written as a patch of OLD (verified first, with --key or the
signing key's public half): the manifest describes the whole release, the file carries only what OLD lacks.

-o is the output format, as for every command; '-o BUNDLE', the earlier way to name the file, still works and
warns.

The build machine needs go, apt-get, apt-cache and dpkg-deb, and gcc for cgo sources (hack/bundle-deps.sh).`,
		Example: `  berth keygen ~/.cache/berth/keys/bundle
  berth bundle build -f bundles/specs/lab-v1.31.yaml --out lab-v1.31.tar --sign-key ~/.cache/berth/keys/bundle.key
  berth bundle verify lab-v1.31.tar --key ~/.cache/berth/keys/bundle.pub
  berth bundle build -f bundles/specs/lab-v1.32.yaml --base lab-v1.31.tar --out lab-v1.32-patch.tar --sign-key ~/.cache/berth/keys/bundle.key`,
		Annotations: map[string]string{annotationOutputFile: "out"},
		Args:        exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if signKey != "" {
				k, err := bundles.LoadPrivateKey(signKey)
				if err != nil {
					return err
				}
				opts.SignKey = k
			} else {
				fmt.Fprintln(a.errOut, "warning: no --sign-key: the bundle will be unsigned and 'berth bundle verify' will refuse it without --insecure-skip-signature")
			}
			if base != "" {
				b, err := openPatchInput(cmd.Context(), a, base, &trust, opts.SignKey)
				if err != nil {
					return err
				}
				opts.Base = b
			}
			opts.Builder = buildinfo.Get().Version
			opts.Logger = a.log
			res, err := build.New(opts).Run(cmd.Context())
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(BundleBuildOutput{Output: res.Output, ManifestDigest: res.ManifestDigest, Base: res.Manifest.Base,
					CompressedBytes: res.CompressedBytes, PayloadBytes: res.PayloadBytes, Seconds: res.Duration.Seconds()})
			}
			fmt.Fprintf(a.out, "built %s: %s (%s uncompressed, %d files, %d images, %d packages) in %s\nmanifest %s\n",
				res.Output, bundleBytes(res.CompressedBytes), bundleBytes(res.PayloadBytes), len(res.Manifest.Files),
				len(res.Manifest.Images), len(res.Manifest.Packages), res.Duration.Round(1e8), res.ManifestDigest)
			if opts.Base != nil {
				printPatchSummary(a.out, res.Output, opts.Base, res.Manifest, res.CompressedBytes)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Spec, "file", "f", "", "bundle spec `FILE` (YAML) (required)")
	f.StringVar(&opts.Output, "out", "", "bundle `FILE` to write (required)")
	f.StringVar(&signKey, "sign-key", "", "ed25519 private key from berth keygen (PREFIX.key)")
	f.StringVar(&opts.CacheDir, "cache-dir", "", "build cache (default ~/.cache/berth/bundle)")
	f.StringVar(&base, "base", "", "write a patch bundle of this full bundle: only what it lacks is carried")
	trust.register(cmd, false)
	cmd.MarkFlagRequired("file")
	cmd.MarkFlagRequired("out")
	cmd.MarkFlagFilename("file", "yaml", "yml")
	return cmd
}

// trustFlags are the signature options shared by verify, inspect and diff.
type trustFlags struct {
	keys     []string
	insecure bool
}

func (t *trustFlags) register(cmd *cobra.Command, withInsecure bool) {
	cmd.Flags().StringSliceVar(&t.keys, "key", nil, "trusted public key (PREFIX.pub from berth keygen); repeatable; default $BERTH_BUNDLE_KEY")
	if withInsecure {
		cmd.Flags().BoolVar(&t.insecure, "insecure-skip-signature", false, "accept an unsigned or untrusted bundle (digests are still checked)")
	}
}

// insecureWarning is what --insecure-skip-signature costs, in one line for JSON output.
const insecureWarning = "--insecure-skip-signature: the bundle's signature is NOT enforced; anyone who could change " +
	"the file could have changed its manifest too; never install such a bundle in production"

// warn prints, loudly and at every verbosity, what the trust flags give up, and returns the same warnings for JSON
// output (an empty list when there is nothing to warn about).
func (t *trustFlags) warn(a *app) []string {
	if !t.insecure {
		return []string{}
	}
	bar := strings.Repeat("!", 78)
	fmt.Fprintln(a.errOut, bar+"\n!! WARNING: --insecure-skip-signature: the signature is NOT enforced. Anyone who could\n"+
		"!! change this file could have changed its manifest too. Never install such a bundle in production.\n"+bar)
	return []string{insecureWarning}
}

func (t *trustFlags) options(a *app) (bundles.VerifyOptions, error) {
	paths := t.keys
	if len(paths) == 0 && os.Getenv("BERTH_BUNDLE_KEY") != "" {
		paths = strings.Split(os.Getenv("BERTH_BUNDLE_KEY"), ",")
	}
	var keys []ed25519.PublicKey
	for _, p := range paths {
		k, err := bundles.LoadPublicKey(p)
		if err != nil {
			return bundles.VerifyOptions{}, err
		}
		keys = append(keys, k)
	}
	return bundles.VerifyOptions{PublicKeys: keys, InsecureSkipSignature: t.insecure, Logger: a.log}, nil
}

// BundleVerifyOutput is what `berth bundle verify -o json|yaml` prints, for a valid bundle and for a refused one.
type BundleVerifyOutput struct {
	Bundle          string            `json:"bundle"`
	Valid           bool              `json:"valid"`
	Problems        []bundles.Problem `json:"problems,omitempty"` // why it was refused
	Signed          bool              `json:"signed,omitempty"`
	KeyID           string            `json:"keyID,omitempty"`
	ManifestDigest  string            `json:"manifestDigest,omitempty"`
	Files           int               `json:"files,omitempty"`
	PayloadBytes    int64             `json:"payloadBytes,omitempty"`
	CompressedBytes int64             `json:"compressedBytes,omitempty"`
	Seconds         float64           `json:"seconds,omitempty"`
	MBPerSecond     float64           `json:"mbPerSecond,omitempty"`
	Warnings        []string          `json:"warnings"`
	// A patch bundle: the base it needs (refused without it), or, verified with it, the base and what it supplied.
	Patch         bool             `json:"patch,omitempty"`
	NeedsBase     *bundles.BaseRef `json:"needsBase,omitempty"`
	Base          *bundles.BaseRef `json:"base,omitempty"`
	FilesFromBase int              `json:"filesFromBase,omitempty"`
	BaseBytes     int64            `json:"baseBytes,omitempty"`
}

// BundleInspectOutput is what `berth bundle inspect -o json|yaml` prints.
type BundleInspectOutput struct {
	Bundle            string            `json:"bundle"`
	ManifestDigest    string            `json:"manifestDigest"`
	SignedBy          string            `json:"signedBy"`
	SignatureVerified bool              `json:"signatureVerified"`
	CompressedBytes   int64             `json:"compressedBytes"`
	PayloadBytes      int64             `json:"payloadBytes"`
	Sections          []bundles.Section `json:"sections"`
	Manifest          *bundles.Manifest `json:"manifest"`
}

func newBundleInspectCmd(a *app) *cobra.Command {
	var trust trustFlags
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE",
		Short: "Show what a bundle holds: versions, images, packages, charts, sizes",
		Long: `Reads only the manifest at the start of the bundle, so it is instant on any size. With --key the manifest's
signature is checked too; the content is not (use verify for that).`,
		Example: `  berth bundle inspect lab-v1.31.tar
  berth bundle inspect lab-v1.31.tar -o json | jq '.manifest.images[].refs'`,
		Args: exactArgs(1, "BUNDLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := trust.options(a)
			if err != nil {
				return err
			}
			h, err := bundles.ReadHeader(args[0], opts)
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(BundleInspectOutput{Bundle: args[0], ManifestDigest: h.ManifestDigest, SignedBy: h.SignedBy,
					SignatureVerified: h.SignatureVerified, CompressedBytes: h.CompressedBytes,
					PayloadBytes: h.Manifest.TotalSize(), Sections: h.Manifest.Sections(), Manifest: h.Manifest})
			}
			printInspect(a.out, args[0], h)
			return nil
		},
	}
	trust.register(cmd, false)
	return cmd
}

func printInspect(out io.Writer, path string, h *bundles.Header) {
	m := h.Manifest
	sig := "UNSIGNED"
	if h.SignedBy != "" {
		sig = "signed by key " + h.SignedBy
		if h.SignatureVerified {
			sig += " (verified)"
		} else {
			sig += " (not checked: pass --key)"
		}
	}
	fmt.Fprintf(out, "Bundle      %s\nName        %s %s\nKubernetes  %s\nTarget      %s/%s %s\nSignature   %s\nManifest    %s\nBuilt       %s by berth %s with %s from %s (%s)\nSize        %s compressed, %s of content\n\n",
		path, m.Name, m.Version, m.KubernetesVersion, m.Target.OS, m.Target.Arch, m.Target.Distro, sig, h.ManifestDigest,
		m.Provenance.BuildTime.Format("2006-01-02 15:04:05Z"), m.Provenance.Builder, m.Provenance.GoVersion,
		m.Provenance.SpecName, bundleShortDigest(m.Provenance.SpecDigest), bundleBytes(h.CompressedBytes), bundleBytes(m.TotalSize()))
	if b := m.Base; b != nil {
		fmt.Fprintf(out, "Patch of    %s %s (manifest %s): the file carries only what that bundle lacks; verify and\n"+
			"            install it with that bundle as --base. The content below is the whole release.\n\n", b.Name, b.Version, b.ManifestDigest)
	}
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SECTION\tFILES\tSIZE")
	for _, s := range m.Sections() {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", s.Name, s.Files, bundleBytes(s.Bytes))
	}
	fmt.Fprintln(tw, "\nCOMPONENT\tVERSION\tSOURCE")
	for _, c := range m.Components {
		src := c.Source
		if c.Note != "" {
			src += " — " + c.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Version, src)
	}
	fmt.Fprintln(tw, "\nFILE\tSIZE\tSHA256")
	for _, f := range m.Files {
		if f.Kind == bundles.KindBinary || f.Kind == bundles.KindCNI || f.Kind == bundles.KindFile {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Path, bundleBytes(f.Size), f.SHA256[:12])
		}
	}
	fmt.Fprintln(tw, "\nIMAGE\tSIZE\tDIGEST")
	for _, im := range m.Images {
		for _, r := range im.Refs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r, bundleBytes(m.ImageBytes(im)), bundleShortDigest(im.Digest))
		}
	}
	fmt.Fprintln(tw, "\nPACKAGE\tVERSION\tSIZE")
	for _, p := range m.Packages {
		name := p.Name
		if !p.Requested {
			name += " (dependency)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, p.Version, bundleBytes(p.Size))
	}
	if len(m.Charts) > 0 {
		fmt.Fprintln(tw, "\nCHART\tVERSION\tSIZE")
		for _, c := range m.Charts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Version, bundleBytes(c.Size))
		}
	}
	tw.Flush()
}

func bundleOrDash(s, empty string) string {
	if s == "" || s == "-" {
		return empty
	}
	return s
}

// bundleShortDigest abbreviates "sha256:abcdef..." to "sha256:abcdef012345".
func bundleShortDigest(d string) string {
	if d == "" {
		return "-"
	}
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// bundleBytes formats a byte count with binary units.
func bundleBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
