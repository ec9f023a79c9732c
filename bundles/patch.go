package bundles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// NeedsBaseError says a patch bundle was verified or opened without the full bundle that completes it.
type NeedsBaseError struct {
	// Patch is the patch bundle's file; Base names the bundle it needs.
	Patch string
	Base  BaseRef
}

func (e *NeedsBaseError) Error() string {
	return fmt.Sprintf("bundle %s is a patch bundle: it carries only what its base lacks and needs that base, %s %s "+
		"(manifest %s); pass that bundle with --base", e.Patch, e.Base.Name, e.Base.Version, e.Base.ManifestDigest)
}

// verifyBase checks the base that opts names for the patch at patchPath (whose verified manifest is m): it must
// be the bundle m names, a full bundle, and verify as one. It returns where each file of the release comes from
// and the base's verification, which kept the documents the patch's structure check needs.
func verifyBase(ctx context.Context, patchPath string, m *Manifest, opts VerifyOptions) (*patchPlan, *VerifyResult, error) {
	want := *m.Base
	if opts.Base == "" {
		return nil, nil, &NeedsBaseError{Patch: patchPath, Base: want}
	}
	// The header first, so a wrong base is refused at once rather than after streaming it.
	hd, err := ReadHeader(opts.Base, VerifyOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("base of patch %s: %w", patchPath, err)
	}
	if hd.ManifestDigest != want.ManifestDigest {
		return nil, nil, wrongBase(patchPath, opts.Base, want, hd.Manifest, hd.ManifestDigest)
	}
	if hd.Manifest.Base != nil {
		return nil, nil, &VerifyError{Bundle: patchPath, Problems: []Problem{{File: opts.Base, Problem: fmt.Sprintf(
			"the base is itself a patch (of %s); patches are made against full bundles: make this patch against a full bundle", hd.Manifest.Base)}}}
	}
	plan := planPatch(m, hd.Manifest)
	keep := map[string]bool{}
	for _, p := range structurePaths(m) {
		if ref, ok := plan.source[p]; ok && ref.base {
			keep[ref.path] = true
		}
	}
	baseOpts := opts
	baseOpts.Base = ""
	res, err := verify(ctx, opts.Base, baseOpts, keep)
	if err != nil {
		return nil, nil, baseRefused(patchPath, opts.Base, plan, hd.Manifest, err)
	}
	if res.ManifestDigest != want.ManifestDigest { // the file changed between the two reads
		return nil, nil, wrongBase(patchPath, opts.Base, want, res.Manifest, res.ManifestDigest)
	}
	return plan, res, nil
}

// wrongBase refuses a base other than the one a patch names, naming both.
func wrongBase(patchPath, basePath string, want BaseRef, got *Manifest, gotDigest string) error {
	return &VerifyError{Bundle: patchPath, Problems: []Problem{{File: ManifestPath, Problem: fmt.Sprintf(
		"names base %s %s with manifest %s, but %s is %s %s with manifest %s: pass the bundle this patch was made from, "+
			"or make a patch against this one (berth bundle delta)", want.Name, want.Version, want.ManifestDigest, basePath,
		got.Name, got.Version, gotDigest)}}}
}

// baseRefused turns the base's refusal into the patch's: a file the patch relies on that the base lacks (or holds
// damaged) is named as a file of the release that neither holds; the base's other problems are reported as such.
func baseRefused(patchPath, basePath string, plan *patchPlan, base *Manifest, err error) error {
	var verr *VerifyError
	if !errors.As(err, &verr) {
		return fmt.Errorf("base %s of patch %s: %w", basePath, patchPath, err)
	}
	needed := plan.fromBase()
	out := &VerifyError{Bundle: patchPath}
	for _, p := range verr.Problems {
		users := needed[p.File]
		sort.Strings(users)
		for _, u := range users {
			f, _ := base.FileByPath(p.File)
			out.Problems = append(out.Problems, Problem{File: u, Problem: fmt.Sprintf(
				"in neither the patch nor its base: the patch relies on %s (sha256 %s) of base %s, which is refused there (%s); "+
					"copy the base bundle again", p.File, f.SHA256, basePath, p.Problem)})
		}
		if len(users) == 0 {
			out.Problems = append(out.Problems, Problem{File: p.File, Problem: "in base " + basePath + ": " + p.Problem})
		}
	}
	sort.SliceStable(out.Problems, func(i, j int) bool { return out.Problems[i].File < out.Problems[j].File })
	return out
}

// WritePatch writes to out a patch bundle that makes release out of base: release's manifest, naming base, with
// only the files whose content base lacks, read from release (itself a full bundle or a patch opened with its
// base) and checked on the way. Both must have been opened (verified); opts.Base is set to base. It is Write
// with a base, the one path that writes every bundle.
func WritePatch(ctx context.Context, out string, base, release *Bundle, opts WriteOptions) error {
	m := *release.Manifest
	ref := base.AsBase()
	m.Base = &ref
	opts.Base = base
	r := release.newContentReader()
	defer r.close()
	return Write(ctx, out, &m, func(f File) (io.ReadCloser, error) {
		content, err := r.open(f)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(content), nil
	}, opts)
}
