package bundles

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
)

// Header is what the first entries of a bundle say, read without checking the rest of the file.
type Header struct {
	Manifest       *Manifest `json:"manifest"`
	ManifestDigest string    `json:"manifestDigest"`
	// SignedBy is the key ID in manifest.yaml.sig, "" when the bundle is unsigned.
	SignedBy string `json:"signedBy"`
	// SignatureVerified is true when a trusted key given in the options verified the signature.
	SignatureVerified bool `json:"signatureVerified"`
	// CompressedBytes is the size of the bundle file.
	CompressedBytes int64 `json:"compressedBytes"`
}

// ReadHeader reads manifest.yaml and manifest.yaml.sig from the start of the bundle; it reads nothing else, so
// it is instant on any size. When opts has public keys the signature must verify; without keys the signature is
// only reported. Use Verify before trusting the content.
func ReadHeader(path string, opts VerifyOptions) (*Header, error) {
	s, err := openStream(path)
	if err != nil {
		return nil, err
	}
	defer s.close()
	data, err := readManifestBytes(s)
	if err != nil {
		return nil, err
	}
	hd := &Header{ManifestDigest: digestOf(data), CompressedBytes: s.size}
	h, err := s.next()
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == nil && h.Name == SignaturePath {
		sig, err := readSmall(s, h, maxSignatureSize)
		if err != nil {
			return nil, err
		}
		var parsed Signature
		if json.Unmarshal(sig, &parsed) == nil {
			hd.SignedBy = parsed.KeyID
		}
		if len(opts.PublicKeys) > 0 {
			if _, err := VerifySignature(data, sig, opts.PublicKeys); err != nil {
				return nil, &VerifyError{Bundle: path, Problems: []Problem{{File: SignaturePath, Problem: err.Error()}}}
			}
			hd.SignatureVerified = true
		}
	} else if len(opts.PublicKeys) > 0 && !opts.InsecureSkipSignature {
		return nil, &VerifyError{Bundle: path, Problems: []Problem{{File: SignaturePath, Problem: "missing: the bundle is unsigned"}}}
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, &VerifyError{Bundle: path, Problems: []Problem{{File: ManifestPath, Problem: err.Error()}}}
	}
	hd.Manifest = m
	return hd, nil
}

// Section is the size of one top-level part of a bundle.
type Section struct {
	Name  string `json:"name"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// Sections sums file sizes by top-level directory (bin, images, packages, charts, files), sorted by name.
func (m *Manifest) Sections() []Section {
	by := map[string]*Section{}
	for _, f := range m.Files {
		name, _, _ := strings.Cut(f.Path, "/")
		s := by[name]
		if s == nil {
			s = &Section{Name: name}
			by[name] = s
		}
		s.Files++
		s.Bytes += f.Size
	}
	out := make([]Section, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ImageBytes returns the bytes of the image's blobs as stored in the bundle; blobs shared with other images are
// counted for each image.
func (m *Manifest) ImageBytes(im Image) int64 {
	var n int64
	for _, d := range im.Blobs() {
		if f, ok := m.FileByPath(BlobPath(d)); ok {
			n += f.Size
		}
	}
	return n
}
