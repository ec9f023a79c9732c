package airgap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berthsh/berth/bundles"
)

// Replica is one registry instance that berth pushes a bundle's images to.
type Replica struct {
	Name string // for people: "system on reg1"
	Addr string // host:port it answers on
	// Transport reaches it: TLS trusting the registry CA, through SSH when the registry's plane is not routed from
	// here. Requests that are not https are refused unless PlainHTTP. nil: http.DefaultTransport.
	Transport http.RoundTripper
	// PlainHTTP allows http: for tests against a registry on loopback only; berth's registries speak TLS.
	PlainHTTP bool
	// Auth answers a registry that asks for credentials (a User registry's push listener); nil for none.
	Auth authn.Authenticator
}

// ReplicaPush is what pushing to one replica did.
type ReplicaPush struct {
	Replica  string        `json:"replica"`
	Images   int           `json:"images"`
	Pushed   int           `json:"pushed"`    // references it lacked, pushed
	Sent     int64         `json:"sentBytes"` // request bodies sent: the blobs it lacked and the manifests
	Duration time.Duration `json:"duration"`
}

// MirrorRef is where a registry that mirrors an image's upstream keeps it: the upstream's host becomes the first
// element of the repository, so images of every upstream live side by side and a containerd mirror entry per
// upstream (hosts.toml, with the path /v2/<upstream>) finds them.
//
//	MirrorRef("10.0.3.100:5000", "registry.k8s.io/etcd:3.5.15-0") = 10.0.3.100:5000/registry.k8s.io/etcd:3.5.15-0
//	MirrorRef("10.0.3.100:5000", "nginx:1.27")                    = 10.0.3.100:5000/docker.io/library/nginx:1.27
//	MirrorRef("10.0.3.100:5000", "reg.example:8443/app:1")        = 10.0.3.100:5000/reg.example_8443/app:1
func MirrorRef(registry, ref string, opts ...name.Option) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	upstream := upstreamOf(r)
	// A port cannot be part of a repository name: "registry.example:8443" is kept as "registry.example_8443".
	repo := registry + "/" + strings.ReplaceAll(upstream, ":", "_") + "/" + r.Context().RepositoryStr()
	if d, ok := r.(name.Digest); ok {
		return name.NewDigest(repo+"@"+d.DigestStr(), opts...)
	}
	return name.NewTag(repo+":"+r.Identifier(), opts...)
}

// Upstreams returns the registries the images are named after, as containerd names them (docker.io for Docker
// Hub: the directory of its hosts.toml), sorted.
func Upstreams(images []bundles.Image) ([]string, error) {
	set := map[string]bool{}
	for _, im := range images {
		for _, ref := range im.Refs {
			r, err := name.ParseReference(ref)
			if err != nil {
				return nil, fmt.Errorf("image %s: reference %q: %w", im.Name, ref, err)
			}
			set[upstreamOf(r)] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// UpstreamOf returns the registry an image reference is named after, as containerd names it (docker.io for Docker
// Hub).
func UpstreamOf(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	return upstreamOf(r), nil
}

func upstreamOf(r name.Reference) string {
	if u := r.Context().RegistryStr(); u != name.DefaultRegistry {
		return u
	}
	return "docker.io"
}

// PushImages pushes the given images of the bundle, from this machine's cache of it, to every replica, each under
// every reference it has (MirrorRef). A replica is read first: only the references it does not serve with the
// bundle's digest are pushed, and of those only the blobs it lacks are sent, so a patch bundle opened without its
// base fills a replica that holds the base. Then every reference is read back from every replica and compared with
// the bundle's digest: nothing may rely on a replica before it serves each image with the bundle's digest. A second
// push of the same images sends nothing but those reads.
func PushImages(ctx context.Context, c *Content, images []bundles.Image, replicas []Replica) ([]ReplicaPush, error) {
	cache, err := c.Cache(ctx)
	if err != nil {
		return nil, err
	}
	lp, err := cache.layout(c.Bundle.Manifest)
	if err != nil {
		return nil, err
	}
	b := c.Bundle
	items := make([]pushable, 0, len(images))
	for _, im := range images {
		items = append(items, pushable{name: im.Name, digest: im.Digest, refs: im.Refs, read: func() (remote.Taggable, error) {
			h, err := v1.NewHash(im.Digest)
			if err != nil {
				return nil, err
			}
			if types.MediaType(im.MediaType).IsIndex() {
				ix, err := lp.ImageIndex()
				if err != nil {
					return nil, err
				}
				return ix.ImageIndex(h)
			}
			return lp.Image(h)
		}})
	}
	hint := func(err error) error { return err }
	if b.WithoutBase {
		hint = func(err error) error {
			return fmt.Errorf("%w (the patch bundle %s does not carry it and the registry does not have it: pass the base with --base (%s))", err, b.Path, b.Manifest.Base)
		}
	}
	return pushAll(ctx, items, replicas, hint)
}

// pushable is one image to push: its digest, every reference it goes under, and how to read it.
type pushable struct {
	name   string
	digest string
	refs   []string // upstream references, kept under MirrorRef; with path, repository paths kept as they are
	path   bool
	read   func() (remote.Taggable, error)
}

// pushAll pushes the images to each replica in turn; hint explains a failure to read or send content.
func pushAll(ctx context.Context, items []pushable, replicas []Replica, hint func(error) error) ([]ReplicaPush, error) {
	var out []ReplicaPush
	for _, r := range replicas {
		res, err := pushReplica(ctx, items, r, hint)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// pushReplica pushes to one replica the references it lacks and checks what it serves.
func pushReplica(ctx context.Context, items []pushable, r Replica, hint func(error) error) (ReplicaPush, error) {
	start := time.Now()
	tr := r.transport()
	ropts := r.options(ctx, tr)
	refs, err := r.refsOf(items)
	if err != nil {
		return ReplicaPush{}, err
	}
	byDigest := map[string]pushable{}
	for _, it := range items {
		byDigest[it.digest] = it
	}
	todo := map[name.Reference]remote.Taggable{}
	for ref, digest := range refs {
		if d, err := remote.Head(ref, ropts...); err == nil && d.Digest.String() == digest {
			continue
		}
		it := byDigest[digest]
		t, err := it.read()
		if err != nil {
			return ReplicaPush{}, fmt.Errorf("push %s to registry %s: read image %s: %w", ref, r.Name, it.name, hint(err))
		}
		todo[ref] = t
	}
	if len(todo) > 0 {
		if err := remote.MultiWrite(todo, ropts...); err != nil {
			return ReplicaPush{}, fmt.Errorf("push to registry %s (%s): %w", r.Name, r.Addr, hint(err))
		}
	}
	if problems := lacks(ropts, refs); len(problems) > 0 {
		return ReplicaPush{}, fmt.Errorf("registry %s (%s) does not serve the images after the push:\n - %s", r.Name, r.Addr,
			strings.Join(problems, "\n - "))
	}
	return ReplicaPush{Replica: r.Name, Images: len(items), Pushed: len(todo), Sent: tr.sent.Load(), Duration: time.Since(start)}, nil
}

// ReplicaLacks reads every reference of the images from a replica and returns, for each it does not serve with
// the bundle's digest, why (empty: the replica serves them all). It sends nothing but manifest HEAD requests.
func ReplicaLacks(ctx context.Context, images []bundles.Image, r Replica) ([]string, error) {
	items := make([]pushable, len(images))
	for i, im := range images {
		items[i] = pushable{name: im.Name, digest: im.Digest, refs: im.Refs}
	}
	refs, err := r.refsOf(items)
	if err != nil {
		return nil, err
	}
	return lacks(r.options(ctx, r.transport()), refs), nil
}

// options are the registry client's options for the replica: its transport and, when it asks for them, its
// credentials.
func (r Replica) options(ctx context.Context, tr http.RoundTripper) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr), remote.WithJobs(4)}
	if r.Auth != nil {
		opts = append(opts, remote.WithAuth(r.Auth))
	}
	return opts
}

// refsOf maps every reference of the images on the replica (MirrorRef) to the digest it must serve.
func (r Replica) refsOf(items []pushable) (map[name.Reference]string, error) {
	var opts []name.Option
	if r.PlainHTTP {
		opts = append(opts, name.Insecure)
	}
	out := map[name.Reference]string{}
	for _, it := range items {
		for _, ref := range it.refs {
			var dst name.Reference
			var err error
			if it.path {
				dst, err = name.ParseReference(r.Addr+"/"+ref, opts...)
			} else {
				dst, err = MirrorRef(r.Addr, ref, opts...)
			}
			if err != nil {
				return nil, err
			}
			out[dst] = it.digest
		}
	}
	return out, nil
}

func (r Replica) transport() *countingTransport {
	tr := &countingTransport{next: r.Transport, plain: r.PlainHTTP}
	if tr.next == nil {
		tr.next = http.DefaultTransport
	}
	return tr
}

// lacks returns what the replica does not serve as wanted, one line per reference, sorted.
func lacks(ropts []remote.Option, want map[name.Reference]string) []string {
	var problems []string
	for ref, digest := range want {
		d, err := remote.Head(ref, ropts...)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", ref, err))
		case d.Digest.String() != digest:
			problems = append(problems, fmt.Sprintf("%s serves %s, the bundle has %s", ref, d.Digest, digest))
		}
	}
	slices.Sort(problems)
	return problems
}

// layout makes the cache's image blobs an OCI image layout of every image of the bundle (its index.json and
// oci-layout marker, written from the manifest) and returns it.
func (c *Cache) layout(m *bundles.Manifest) (layout.Path, error) {
	dir := filepath.Join(c.Dir, filepath.FromSlash(bundles.ImagesDir))
	idx, err := m.OCIIndex(m.Images)
	if err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"index.json": idx, "oci-layout": []byte(bundles.OCILayoutFile)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return layout.Path(dir), nil
}

// countingTransport counts the request bytes sent and refuses plain http unless allowed.
type countingTransport struct {
	next  http.RoundTripper
	plain bool
	sent  atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !t.plain {
		return nil, errors.New("refused: " + req.URL.Scheme + " to " + req.URL.Host + ": berth talks to its registries over TLS only")
	}
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &t.sent}
	}
	return t.next.RoundTrip(req)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// ReplicaRefs lists what a replica serves, at most max references: each as the name it is kept under (the
// upstream's, MirrorRef) -> its manifest digest, read from the registry's catalog, tags and manifests.
func ReplicaRefs(ctx context.Context, r Replica, max int) (map[string]string, error) {
	opts := r.options(ctx, r.transport())
	var nopts []name.Option
	if r.PlainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(r.Addr, nopts...)
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg, opts...)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, repo := range repos {
		rp, err := name.NewRepository(r.Addr+"/"+repo, nopts...)
		if err != nil {
			return nil, err
		}
		tags, err := remote.List(rp, opts...)
		if err != nil {
			return nil, err
		}
		for _, tag := range tags {
			if len(out) >= max {
				return out, fmt.Errorf("registry %s (%s) serves more than %d references", r.Name, r.Addr, max)
			}
			d, err := remote.Head(rp.Tag(tag), opts...)
			if err != nil {
				return nil, err
			}
			out[repo+":"+tag] = d.Digest.String()
		}
	}
	return out, nil
}

// CopyImages copies images from one replica to others. refs are names as the source keeps them (the upstream's:
// registry.k8s.io/pause:3.10); each goes to every destination under the same name, sending only the blobs a
// destination lacks, and every digest is read back there.
func CopyImages(ctx context.Context, src Replica, refs []string, dst []Replica) ([]ArchiveImage, []ReplicaPush, error) {
	sopts := src.options(ctx, src.transport())
	var nopts []name.Option
	if src.PlainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	var images []ArchiveImage
	var items []pushable
	for _, ref := range refs {
		at, err := MirrorRef(src.Addr, ref, nopts...)
		if err != nil {
			return nil, nil, err
		}
		d, err := remote.Head(at, sopts...)
		if err != nil {
			return nil, nil, fmt.Errorf("registry %s (%s) does not serve %s: %w", src.Name, src.Addr, ref, err)
		}
		images = append(images, ArchiveImage{Refs: []string{ref}, Digest: d.Digest.String()})
		items = append(items, pushable{name: ref, digest: d.Digest.String(), refs: []string{ref}, read: func() (remote.Taggable, error) {
			desc, err := remote.Get(at, sopts...)
			if err != nil {
				return nil, err
			}
			if desc.MediaType.IsIndex() {
				return desc.ImageIndex()
			}
			return desc.Image()
		}})
	}
	pushes, err := pushAll(ctx, items, dst, func(err error) error { return err })
	return images, pushes, err
}
