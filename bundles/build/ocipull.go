package build

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berthsh/berth/bundles"
)

// pullImage fetches the image for the target platform from its registry into the blob store, keeping its
// manifest, config and (compressed) layers byte for byte, so its digest is the registry's. Blobs already in
// the store are not fetched again.
func (b *Builder) pullImage(ctx context.Context, src *Source) (*bundles.Image, error) {
	o := src.OCI
	var nameOpts []name.Option
	if o.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(o.Ref, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("oci source %s: ref %q: %w", src.Name, o.Ref, err)
	}
	platform := v1.Platform{OS: b.spec.Target.OS, Architecture: b.spec.Target.Arch}
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithPlatform(platform), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, fmt.Errorf("oci source %s: fetch %s: %w", src.Name, o.Ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("oci source %s: %s has no %s/%s image: %w", src.Name, o.Ref, platform.OS, platform.Architecture, err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
	}
	md, ms, err := b.cache.putBlob(rawManifest)
	if err != nil {
		return nil, err
	}
	cd, cs, err := b.cache.putBlob(rawConfig)
	if err != nil {
		return nil, err
	}
	out := &bundles.Image{Name: src.Name, Refs: o.Tags, Digest: md, MediaType: string(mediaType), Config: cd, Size: ms + cs}
	if len(out.Refs) == 0 {
		tagOnly, _, _ := cutDigest(o.Ref)
		out.Refs = []string{tagOnly}
	}
	if want, ok := ref.(name.Digest); ok && want.DigestStr() != md && desc.Digest.String() != want.DigestStr() {
		return nil, fmt.Errorf("oci source %s: registry served manifest %s for %s", src.Name, md, o.Ref)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
	}
	fetched := 0
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("oci source %s: %w", src.Name, err)
		}
		out.Layers = append(out.Layers, d.String())
		out.Size += size
		if b.cache.hasBlob(d.String()) {
			continue
		}
		if err := b.fetchLayer(l, d.String()); err != nil {
			return nil, fmt.Errorf("oci source %s: layer %s: %w", src.Name, d, err)
		}
		fetched++
	}
	b.log.Info("image pulled", "source", src.Name, "ref", o.Ref, "digest", md, "layers", len(layers), "fetched", fetched)
	return out, nil
}

// fetchLayer streams a compressed layer into the blob store and checks its digest.
func (b *Builder) fetchLayer(l v1.Layer, want string) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	bw, err := b.cache.newBlob()
	if err != nil {
		return err
	}
	if _, err := io.Copy(bw, rc); err != nil {
		bw.abort()
		return err
	}
	if got := "sha256:" + fmt.Sprintf("%x", bw.sum()); got != want {
		bw.abort()
		return fmt.Errorf("registry sent content with digest %s", got)
	}
	_, _, err = bw.commit()
	return err
}

// cutDigest splits "repo:tag@sha256:..." into "repo:tag" and the digest.
func cutDigest(ref string) (string, string, bool) {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '@' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}
