package bundles

// A patch bundle's manifest lists every file of the full release; its archive carries only the content its base
// lacks. patchPlan is the one rule deciding which: Write uses it for what a patch carries, Verify for what the
// patch must hold and what the base must supply, the readers (Walk, Extract, WriteImageArchive) for where each
// file's content is, and Compare for the bytes that would move.

// entryRef is the archive entry that holds a release file's content.
type entryRef struct {
	path   string // entry name in its archive
	base   bool   // in the base's archive; false: in the patch's own
	absent bool   // in no archive here: a patch opened without its base leaves this content to the hosts
}

// patchPlan maps every file of a release onto the entry holding its content when it is read as a patch of base.
type patchPlan struct {
	source map[string]entryRef // release path -> entry
	// carried are the files the patch's archive holds, in manifest order: one per content the base lacks.
	carried []File
	// carriedBytes is their size: what a patch adds to the base. baseFiles counts the files read from the base.
	carriedBytes int64
	baseFiles    int
}

// planPatch decides where each file of release comes from when base completes it. Content is matched by
// sha256, whatever the path: a file whose content the base lists is read from the base (at the same path when the
// base has it there); content the base lacks is carried once, at the first path that has it, and other paths with
// the same content read that entry.
func planPatch(release, base *Manifest) *patchPlan {
	inBase := make(map[string]string, len(base.Files)) // sha256 -> first base path
	for _, f := range base.Files {
		if _, ok := inBase[f.SHA256]; !ok {
			inBase[f.SHA256] = f.Path
		}
	}
	p := &patchPlan{source: make(map[string]entryRef, len(release.Files))}
	carried := map[string]string{} // sha256 -> path carried
	for _, f := range release.Files {
		if bf, ok := base.FileByPath(f.Path); ok && bf.SHA256 == f.SHA256 {
			p.source[f.Path] = entryRef{path: f.Path, base: true}
			p.baseFiles++
			continue
		}
		if bp, ok := inBase[f.SHA256]; ok {
			p.source[f.Path] = entryRef{path: bp, base: true}
			p.baseFiles++
			continue
		}
		if cp, ok := carried[f.SHA256]; ok {
			p.source[f.Path] = entryRef{path: cp}
			continue
		}
		carried[f.SHA256] = f.Path
		p.source[f.Path] = entryRef{path: f.Path}
		p.carried = append(p.carried, f)
		p.carriedBytes += f.Size
	}
	return p
}

// planCarried maps every file of release onto the patch's own entries when the patch is read without its base:
// carried holds the entries its archive has (sha256 -> entry path, as verify saw them). A file whose content no
// entry has is absent: the base held it, and whoever uses it must find it by its sha256 elsewhere.
func planCarried(release *Manifest, carried map[string]string) *patchPlan {
	p := &patchPlan{source: make(map[string]entryRef, len(release.Files))}
	for _, f := range release.Files {
		entry, ok := carried[f.SHA256]
		switch {
		case !ok:
			p.source[f.Path] = entryRef{absent: true}
			p.baseFiles++
		case entry == f.Path:
			p.source[f.Path] = entryRef{path: f.Path}
			p.carried = append(p.carried, f)
			p.carriedBytes += f.Size
		default:
			p.source[f.Path] = entryRef{path: entry}
		}
	}
	return p
}

// carries reports whether the patch's own archive holds an entry at path.
func (p *patchPlan) carries(path string) bool {
	ref, ok := p.source[path]
	return ok && !ref.base && ref.path == path
}

// fromBase returns the release files whose content the base supplies, by base path: what the base must hold.
func (p *patchPlan) fromBase() map[string][]string {
	out := map[string][]string{}
	for path, ref := range p.source {
		if ref.base {
			out[ref.path] = append(out[ref.path], path)
		}
	}
	return out
}
