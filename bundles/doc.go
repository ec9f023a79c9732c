// Package bundles defines berth's offline bundle — the one file that crosses the air gap — and reads it safely.
//
// A bundle is a zstd-compressed tar whose first entry is manifest.yaml (every file with size and sha256, every
// image with refs and digests, OS packages, charts, component versions, provenance), whose second entry is
// manifest.yaml.sig (ed25519 over the manifest's bytes), followed by bin/, charts/, files/, images/ (one OCI image
// layout whose blobs are shared between images) and packages/<distro>/. docs/bundle-format.md is the reference.
//
// # Reading a bundle (what the installer uses)
//
// Open verifies the whole file in one streaming pass — signature by a trusted key, every digest, nothing missing
// or extra, the archive complete — and returns a *Bundle. Memory stays bounded (tens of MB) whatever the size.
//
//	b, err := bundles.Open(ctx, "lab-v1.31.tar", bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
//	if err != nil { ... }              // *VerifyError lists each file and its problem
//	b.Manifest.KubernetesVersion        // "v1.31.4"
//	b.ManifestDigest                    // the bundle's identity, for journals
//
// Every read after Open streams the file again and re-checks each byte it hands out against the verified
// manifest, so a file swapped after Open is refused, never used:
//
//	// Host binaries and .debs for a host, written under dir at their bundle paths (dir/bin/kubeadm,
//	// dir/packages/debian-12/*.deb); temp file + rename, files already present with the right digest skipped.
//	res, err := b.Extract(ctx, dir, bundles.Filter{Kinds: []bundles.FileKind{bundles.KindBinary, bundles.KindCNI, bundles.KindPackage}})
//
//	// Some images as an OCI layout under dir/images (blobs + index.json + oci-layout for just those images).
//	res, err := b.Extract(ctx, dir, bundles.Filter{Images: []string{"registry.k8s.io/pause:3.10"}})
//
//	// Images as an OCI archive that `ctr -n k8s.io images import FILE` (containerd 1.6 included) loads with
//	// their refs; write it to a file or pipe it over SSH.
//	err := b.WriteImageArchive(ctx, w, refs...)
//
//	// Anything else: stream selected files, each reader failing at EOF with ErrContentMismatch if tampered.
//	err := b.Walk(ctx, bundles.Filter{Paths: []string{"charts/"}}, func(f bundles.File, r io.Reader) error { ... })
//
// ReadHeader reads just the manifest and signature (instant on any size) for inspect and diff; Compare computes
// what an upgrade from one bundle to another changes and how many bytes would move.
//
// # Patch bundles
//
// A patch bundle's manifest describes a whole release and names its base (Manifest.Base); its archive carries only
// the content, matched by sha256, that the base lacks. Open it with its base and it reads as the full bundle:
//
//	b, err := bundles.OpenPatch(ctx, patch, base, opts) // Open with opts.Base; base "" opens a full bundle as Open
//	var needs *bundles.NeedsBaseError                    // what Open returns for a patch without its base
//	errors.As(err, &needs)                               // needs.Base names the bundle to ask for
//
// WritePatch writes one from two opened bundles; Write with WriteOptions.Base writes one from a manifest (the
// builder's path); Compare tells beforehand what it would carry, per component.
//
// # Writing a bundle
//
// Write produces a bundle from a manifest and a function opening each file's content; package bundles/build
// makes manifests from specs (Go modules built here, Debian packages with their dependencies, registries, files,
// assembled images, charts). GenerateKey, WriteKeyPair, LoadPrivateKey and LoadPublicKey handle signing keys.
package bundles
