package bundles

import (
	"archive/tar"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// VerifyOptions says whom to trust when verifying a bundle.
type VerifyOptions struct {
	// PublicKeys are the trusted signing keys; the bundle must be signed by one of them.
	PublicKeys []ed25519.PublicKey
	// InsecureSkipSignature accepts an unsigned bundle, or one whose signer is not trusted. Digests are still
	// checked, but anyone who could change the bundle could also have changed its manifest.
	InsecureSkipSignature bool
	// Logger receives progress and the warning when the signature is skipped; nil discards.
	Logger *slog.Logger
	// Base is the full bundle that completes a patch bundle, verified with the same keys. A patch is refused
	// without it (*NeedsBaseError) unless WithoutBase; a full bundle ignores it.
	Base string
	// WithoutBase accepts a patch bundle whose base is not on this machine: the signature and every file the patch
	// carries are checked, and the files it takes from its base are left to be found by their sha256 where they are
	// used (the hosts that staged the base). The Bundle's readers hand out only what the patch carries (Bundle.Holds).
	WithoutBase bool
}

// VerifyResult is what a successful verification established.
type VerifyResult struct {
	Manifest *Manifest
	// ManifestDigest is "sha256:<hex>" of manifest.yaml's bytes: the identity of the bundle.
	ManifestDigest string
	// Signed is true when a trusted key verified the signature; KeyID names that key.
	Signed bool
	KeyID  string
	// Files is the number of entries checked (manifest and signature excluded).
	Files int
	// PayloadBytes is the uncompressed size of all entries; CompressedBytes the size of the bundle file.
	PayloadBytes    int64
	CompressedBytes int64
	Duration        time.Duration
	// Base is, for a patch bundle, the verification of its base; FromBase counts the files of the release whose
	// content the base supplied (Files counts the entries of the patch itself).
	Base     *VerifyResult
	FromBase int
	// WithoutBase says a patch was verified without its base (VerifyOptions.WithoutBase): FromBase counts the files
	// left unchecked here, and carried maps the content of each entry checked (sha256 -> entry path).
	WithoutBase bool
	carried     map[string]string
	// kept holds the small documents a caller asked verify to keep (the OCI index and image manifests).
	kept map[string][]byte
}

// Verify streams the bundle once and checks everything: manifest first and well formed, its signature by a
// trusted key, every entry listed with the right size and sha256, no entry missing or extra, the OCI layout's
// index and image manifests matching the manifest, and the archive complete. Nothing is extracted; memory stays
// bounded whatever the bundle's size. Any refusal is a *VerifyError naming each file and its problem.
//
// A patch bundle is verified with its base (opts.Base): the signature, then that the base is the one the patch
// names (refused naming both manifest digests), then the whole base as a bundle of its own, then the patch's
// entries; so every file of the release is checked by sha256 in whichever file holds it. A base that lacks a file
// the patch relies on is refused naming that file. Without opts.Base a patch is a *NeedsBaseError, unless
// opts.WithoutBase accepts it on what it carries.
func Verify(ctx context.Context, path string, opts VerifyOptions) (*VerifyResult, error) {
	return verify(ctx, path, opts, nil)
}

// verify is Verify, also keeping the content of the entries named in keep (a patch's check needs some of its
// base's documents).
func verify(ctx context.Context, path string, opts VerifyOptions, keep map[string]bool) (*VerifyResult, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	s, err := openStream(path)
	if err != nil {
		return nil, err
	}
	defer s.close()
	refuse := func(file, format string, args ...any) error {
		return &VerifyError{Bundle: path, Problems: []Problem{{File: file, Problem: fmt.Sprintf(format, args...)}}}
	}

	manifestBytes, err := readManifestBytes(s)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{ManifestDigest: digestOf(manifestBytes)}

	h, err := s.nextOrEnd()
	if err != nil {
		return nil, err
	}
	if h != nil && h.Name == SignaturePath {
		sig, rerr := readSmall(s, h, maxSignatureSize)
		if rerr != nil {
			return nil, rerr
		}
		switch {
		case len(opts.PublicKeys) == 0 && opts.InsecureSkipSignature:
			log.Warn("signature NOT checked (--insecure-skip-signature): anyone could have built this bundle", "bundle", path)
		default:
			id, verr := VerifySignature(manifestBytes, sig, opts.PublicKeys)
			if verr != nil && !opts.InsecureSkipSignature {
				return nil, refuse(SignaturePath, "%v", verr)
			}
			if verr != nil {
				log.Warn("signature NOT trusted, continuing because of --insecure-skip-signature", "bundle", path, "problem", verr)
			} else {
				res.Signed, res.KeyID = true, id
			}
		}
		if h, err = s.nextOrEnd(); err != nil {
			return nil, err
		}
	} else if !opts.InsecureSkipSignature {
		return nil, refuse(SignaturePath, "missing: the bundle is unsigned (sign it with berth bundle build --sign-key, or pass --insecure-skip-signature to accept it anyway)")
	} else {
		log.Warn("bundle is UNSIGNED and accepted because of --insecure-skip-signature: anyone could have built it", "bundle", path)
	}
	// Parse only after the signature check: a changed manifest is reported as a bad signature.
	m, err := ParseManifest(manifestBytes)
	if err != nil {
		return nil, refuse(ManifestPath, "%v", err)
	}
	res.Manifest = m
	check := newContentCheck(m, keep)
	files, size := len(m.Files), m.TotalSize()
	if m.Base != nil && opts.Base == "" && opts.WithoutBase {
		check.patchWithoutBase()
		log.Warn("patch bundle opened without its base: the files it takes from the base are checked by sha256 where they are used",
			"bundle", path, "base", m.Base.String())
	} else if m.Base != nil {
		plan, base, err := verifyBase(ctx, path, m, opts)
		if err != nil {
			return nil, err
		}
		check.patchOf(plan, base.kept)
		res.Base, res.FromBase = base, plan.baseFiles
		files, size = len(plan.carried), plan.carriedBytes
	} else if opts.Base != "" {
		log.Info("not a patch bundle: the base is not needed", "bundle", path, "base", opts.Base)
	}
	s.allow(files, size)

	// h is the first entry after the manifest and its signature, nil when the archive ends there.
	for h != nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verify %s: %w", path, err)
		}
		if err := check.entry(s, h); err != nil {
			return nil, err
		}
		res.Files++
		if h, err = s.nextOrEnd(); err != nil {
			return nil, err
		}
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	if probs := check.done(); len(probs) > 0 {
		return nil, &VerifyError{Bundle: path, Problems: probs}
	}
	if keep != nil {
		res.kept = check.kept
	}
	if check.withoutBase {
		res.WithoutBase, res.carried = true, check.carried
		res.FromBase = planCarried(m, check.carried).baseFiles
	}
	res.PayloadBytes = s.payload
	res.CompressedBytes = s.cnt.n
	res.Duration = time.Since(start)
	log.Info("bundle verified", "bundle", path, "files", res.Files, "signed", res.Signed, "key", res.KeyID,
		"bytes", res.PayloadBytes, "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// readManifestBytes reads the first entry, which must be manifest.yaml.
func readManifestBytes(s *stream) ([]byte, error) {
	h, err := s.next()
	if err == io.EOF {
		return nil, &VerifyError{Bundle: s.path, Problems: []Problem{{File: ManifestPath, Problem: "missing: the archive is empty"}}}
	}
	if err != nil {
		return nil, err
	}
	if h.Name != ManifestPath {
		return nil, &VerifyError{Bundle: s.path, Problems: []Problem{{File: ManifestPath,
			Problem: fmt.Sprintf("missing: the first entry is %q, a berth bundle starts with %s", h.Name, ManifestPath)}}}
	}
	return readSmall(s, h, maxManifestSize)
}

// readSmall reads a whole entry that must be a regular file of at most limit bytes.
func readSmall(s *stream, h *tar.Header, limit int64) ([]byte, error) {
	if h.Typeflag != tar.TypeReg {
		return nil, &VerifyError{Bundle: s.path, Problems: []Problem{{File: h.Name, Problem: "not a regular file"}}}
	}
	if h.Size > limit {
		return nil, &VerifyError{Bundle: s.path, Problems: []Problem{{File: h.Name,
			Problem: fmt.Sprintf("%d bytes, more than the %d allowed", h.Size, limit)}}}
	}
	data, err := io.ReadAll(s.read())
	if err != nil {
		return nil, err
	}
	return data, nil
}

// digestOf returns "sha256:<hex>" of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Problem is one reason a bundle is refused.
type Problem struct {
	File    string `json:"file"`
	Problem string `json:"problem"`
}

// VerifyError lists every reason a bundle was refused.
type VerifyError struct {
	Bundle   string    `json:"bundle"`
	Problems []Problem `json:"problems"`
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bundle %s refused:", e.Bundle)
	const maxShown = 50
	for i, p := range e.Problems {
		if i == maxShown {
			fmt.Fprintf(&b, "\n  ... and %d more problems", len(e.Problems)-maxShown)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", p.File, p.Problem)
	}
	return b.String()
}
