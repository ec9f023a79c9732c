package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/berthsh/berth/bundles"
	"github.com/spf13/cobra"
)

func newBundleVerifyCmd(a *app) *cobra.Command {
	var trust trustFlags
	var base string
	cmd := &cobra.Command{
		Use:   "verify BUNDLE [--base BASE]",
		Short: "Check a bundle's signature and every byte of its content",
		Long: `Streams the bundle once (nothing is extracted, memory stays bounded) and refuses it, naming each file and
problem, when: the signature is missing, bad or by an untrusted key; any file's size or sha256 differs from the
manifest; a file is missing or extra; the archive is truncated or corrupt. Exit 0 means the bundle is exactly what
the key's owner built.

A patch bundle is verified with its base (--base): the base must be the bundle the patch names (else both
manifest digests are shown), and every file of the release is checked in whichever of the two holds it. Without
--base a patch is refused, naming the base it needs.`,
		Example: `  berth bundle verify lab-v1.31.tar --key bundle.pub
  BERTH_BUNDLE_KEY=bundle.pub berth bundle verify lab-v1.31.tar -o json
  berth bundle verify lab-v1.32-patch.tar --base lab-v1.31.tar --key bundle.pub`,
		Args: exactArgs(1, "BUNDLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := trust.options(a)
			if err != nil {
				return err
			}
			opts.Base = base
			warnings := trust.warn(a)
			res, err := bundles.Verify(cmd.Context(), args[0], opts)
			var verr *bundles.VerifyError
			var needs *bundles.NeedsBaseError
			switch {
			case errors.As(err, &needs) && a.machine():
				if perr := a.print(BundleVerifyOutput{Bundle: args[0], Valid: false, Patch: true, NeedsBase: &needs.Base,
					Problems: []bundles.Problem{{File: args[0], Problem: needs.Error()}}, Warnings: warnings}); perr != nil {
					return perr
				}
				return codeError{err, exitFailure}
			case errors.As(err, &verr) && a.machine():
				if perr := a.print(BundleVerifyOutput{Bundle: args[0], Valid: false, Problems: verr.Problems, Warnings: warnings}); perr != nil {
					return perr
				}
				return codeError{err, exitFailure}
			case err != nil:
				return err
			}
			files, checked := res.Files, res.PayloadBytes
			if res.Base != nil { // the release: the patch's own files and those its base supplied, both read in full
				files, checked = res.Files+res.FromBase, res.PayloadBytes+res.Base.PayloadBytes
			}
			mbps := float64(checked) / 1e6 / res.Duration.Seconds()
			if a.machine() {
				out := BundleVerifyOutput{Bundle: args[0], Valid: true, Signed: res.Signed, KeyID: res.KeyID,
					ManifestDigest: res.ManifestDigest, Files: res.Files, PayloadBytes: res.PayloadBytes,
					CompressedBytes: res.CompressedBytes, Seconds: res.Duration.Seconds(), MBPerSecond: mbps, Warnings: warnings}
				if res.Base != nil {
					out.Patch, out.Base, out.FilesFromBase, out.BaseBytes = true, res.Manifest.Base, res.FromBase, res.Base.PayloadBytes
				}
				return a.print(out)
			}
			signed := "UNSIGNED (accepted only because of --insecure-skip-signature)"
			if res.Signed {
				signed = "signed by trusted key " + res.KeyID
			}
			fmt.Fprintf(a.out, "OK %s: %s %s, %s\n   %d files, %s checked in %s (%.0f MB/s)\n   manifest %s\n", args[0],
				res.Manifest.Name, res.Manifest.Version, signed, files, bundleBytes(checked),
				res.Duration.Round(1e7), mbps, res.ManifestDigest)
			if res.Base != nil {
				fmt.Fprintf(a.out, "   patch of %s %s (manifest %s): %d files of the release carried by the patch, %d taken from %s (checked whole)\n",
					res.Manifest.Base.Name, res.Manifest.Base.Version, res.Manifest.Base.ManifestDigest, res.Files, res.FromBase, base)
			}
			return nil
		},
	}
	trust.register(cmd, true)
	cmd.Flags().StringVar(&base, "base", "", "the full bundle a patch bundle completes")
	return cmd
}

func newBundleDeltaCmd(a *app) *cobra.Command {
	var trust trustFlags
	var out, signKey string
	cmd := &cobra.Command{
		Use:   "delta OLD NEW --out PATCH",
		Short: "Write a patch bundle: NEW's release, carrying only what OLD lacks",
		Long: `Verifies OLD and NEW (with --key, $BERTH_BUNDLE_KEY, or else the public half of --sign-key), then writes
PATCH: a signed bundle whose manifest describes NEW's whole release and names OLD's manifest digest, holding only
the files and image blobs whose sha256 OLD does not list. Carry PATCH across the air gap to where OLD already is;
'berth bundle verify PATCH --base OLD' checks the pair, and install and upgrade read them together.
'berth bundle diff OLD NEW' shows beforehand what the patch will carry, by component.`,
		Example: `  berth bundle delta lab-v1.31.tar lab-v1.32.tar --out lab-v1.32-patch.tar --sign-key ~/.cache/berth/keys/bundle.key
  berth bundle verify lab-v1.32-patch.tar --base lab-v1.31.tar --key ~/.cache/berth/keys/bundle.pub`,
		Args: exactArgs(2, "OLD NEW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sign ed25519.PrivateKey
			if signKey != "" {
				k, err := bundles.LoadPrivateKey(signKey)
				if err != nil {
					return err
				}
				sign = k
			} else {
				fmt.Fprintln(a.errOut, "warning: no --sign-key: the patch will be unsigned and 'berth bundle verify' will refuse it without --insecure-skip-signature")
			}
			ctx := cmd.Context()
			old, err := openPatchInput(ctx, a, args[0], &trust, sign)
			if err != nil {
				return err
			}
			release, err := openPatchInput(ctx, a, args[1], &trust, sign)
			if err != nil {
				return err
			}
			if err := bundles.WritePatch(ctx, out, old, release, bundles.WriteOptions{SignKey: sign}); err != nil {
				return err
			}
			h, err := bundles.ReadHeader(out, bundles.VerifyOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "wrote %s: %s %s, manifest %s\n", out, h.Manifest.Name, h.Manifest.Version, h.ManifestDigest)
			printPatchSummary(a.out, out, old, h.Manifest, h.CompressedBytes)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "patch bundle `FILE` to write (required)")
	f.StringVar(&signKey, "sign-key", "", "ed25519 private key from berth keygen (PREFIX.key)")
	trust.register(cmd, false)
	cmd.MarkFlagRequired("out")
	return cmd
}

// openPatchInput opens (verifies) a bundle a patch is made from. Trust comes from --key or $BERTH_BUNDLE_KEY, or
// else from the key that signs the patch: whoever holds it vouches for what it makes.
func openPatchInput(ctx context.Context, a *app, path string, trust *trustFlags, sign ed25519.PrivateKey) (*bundles.Bundle, error) {
	opts, err := trust.options(a)
	if err != nil {
		return nil, err
	}
	if len(opts.PublicKeys) == 0 && sign != nil {
		opts.PublicKeys = []ed25519.PublicKey{sign.Public().(ed25519.PublicKey)}
	}
	a.log.Info("verify bundle", "bundle", path)
	return bundles.Open(ctx, path, opts)
}

// openClusterBundle opens (verifies) a bundle that install or upgrade applies. A patch bundle is verified with its
// base when --base gives one; without it, on what it carries, and staging then checks that every host holds what
// the patch takes from its base (the hosts staged it at install or at the last upgrade) before it sends anything.
func openClusterBundle(ctx context.Context, a *app, path, base string, verify bundles.VerifyOptions) (*bundles.Bundle, error) {
	fmt.Fprintf(a.errOut, "Verifying bundle %s ...\n", path)
	verify.WithoutBase = base == ""
	b, err := bundles.OpenPatch(ctx, path, base, verify)
	if err != nil {
		return nil, err
	}
	if b.WithoutBase {
		fmt.Fprintf(a.errOut, "Bundle %s is a patch of %s, not given with --base: the hosts must hold what it takes from that base "+
			"(checked on every host before anything is sent)\n", path, b.Manifest.Base)
	}
	return b, nil
}

// printPatchSummary says what a patch of base written to path carries, against the release's full size.
func printPatchSummary(w io.Writer, path string, base *bundles.Bundle, release *bundles.Manifest, compressed int64) {
	d := bundles.Compare(base.Manifest, release)
	carried := 0
	for _, c := range d.ByComponent {
		carried += c.NewFiles
	}
	fmt.Fprintf(w, "patch of %s %s (manifest %s, %s)\ncarries %d of %d files: %s of %s of content (%.1f%%); the file is %s\n",
		base.Manifest.Name, base.Manifest.Version, base.ManifestDigest, base.Path, carried, len(release.Files),
		bundleBytes(d.BytesToMove), bundleBytes(d.BytesTotal), percent(d.BytesToMove, d.BytesTotal), bundleBytes(compressed))
	fmt.Fprintf(w, "verify it, and install or upgrade from it, with its base: berth bundle verify %s --base %s\n", path, base.Path)
}

// percent is part of whole in percent, 0 for an empty whole.
func percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
