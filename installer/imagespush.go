package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// ImagesPushOptions configure berth images push.
type ImagesPushOptions struct {
	Inventory *inventory.Inventory
	StateDir  string   // base of the state directories; "" for the default
	Registry  string   // the inventory's User registry
	Archives  []string // docker archives or OCI layout directories
	Observers []phase.Observer
	Logger    *slog.Logger
	Pool      *remote.Pool
}

// ImagesPushResult is what berth images push did.
type ImagesPushResult struct {
	Registry string                `json:"registry"`
	Replicas []string              `json:"replicas"` // the registry's hosts
	Images   []airgap.ArchiveImage `json:"images"`
	Pushes   []airgap.ReplicaPush  `json:"pushes"` // per replica and archive
}

// PushImageArchives pushes application images that crossed the gap into a User registry: every image of every
// archive, under each of its names, to every replica of the registry through its push listener (with the
// registry's credentials, over TLS from the registry CA, through the replica host's SSH connection), and reads every
// digest back. Each image must be named after an upstream the registry mirrors, or no node would find it.
func PushImageArchives(ctx context.Context, o ImagesPushOptions) (*ImagesPushResult, error) {
	inv := o.Inventory
	reg, index, err := pushTarget(inv, o.Registry)
	if err != nil {
		return nil, err
	}
	var archives []*airgap.Archive
	res := &ImagesPushResult{Registry: reg.Name, Replicas: reg.Hosts}
	for _, p := range o.Archives {
		a, err := airgap.OpenArchive(p)
		if err != nil {
			return nil, err
		}
		for _, im := range a.Images {
			for _, ref := range im.Refs {
				if err := mirrored(reg, ref); err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
			}
		}
		archives = append(archives, a)
		res.Images = append(res.Images, a.Images...)
	}
	a, err := action.Open(action.Options{Action: "images-push", Inventory: inv, StateDir: o.StateDir, ReadOnly: true,
		Observers: o.Observers, Logger: o.Logger, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, inv, nil, "")
	replicas, err := c.userReplicas(reg, index)
	if err != nil {
		return nil, err
	}
	push := &pushArchives{c: c, archives: archives, replicas: replicas, hosts: reg.Hosts}
	if _, err := a.Run(ctx, &Connect{C: c, Hosts: reg.Hosts}, push); err != nil {
		return nil, err
	}
	res.Pushes = push.done
	return res, nil
}

// findRegistry returns the inventory's registry called name and its place, or an error listing the names.
func findRegistry(inv *inventory.Inventory, name string) (*inventory.Registry, int, error) {
	var names []string
	for i := range inv.Registries {
		if inv.Registries[i].Name == name {
			return &inv.Registries[i], i, nil
		}
		names = append(names, inv.Registries[i].Name)
	}
	return nil, -1, fmt.Errorf("the inventory has no registry %q (it has: %s)", name, strings.Join(names, ", "))
}

// pushTarget returns the registry called name when something other than berth's install may push to it: a User
// registry.
func pushTarget(inv *inventory.Inventory, name string) (*inventory.Registry, int, error) {
	reg, index, err := findRegistry(inv, name)
	if err == nil && reg.Role != inventory.RegistryUser {
		err = fmt.Errorf("registry %s is a System registry: only berth fills it, from a bundle (berth install, berth upgrade apply); push application images to a User registry", reg.Name)
	}
	return reg, index, err
}

// userReplicas returns the replicas of a User registry as a push reaches them: each replica's push listener through
// its host's SSH connection, TLS with the registry CA, and the registry's credentials.
func (c *Cluster) userReplicas(reg *inventory.Registry, index int) ([]airgap.Replica, error) {
	if !c.registryCAExists() {
		return nil, fmt.Errorf("no registry CA in %s: the registries are not installed yet (berth install)", c.StateDir)
	}
	ca, err := c.RegistryCA(time.Now())
	if err != nil {
		return nil, err
	}
	cred, _, err := c.registryCredentials(reg.Name, false)
	if err != nil {
		return nil, err
	}
	if cred.Password == "" {
		return nil, fmt.Errorf("registry %s has no push credentials in %s: the registries are not installed yet (berth install)", reg.Name, c.StateDir)
	}
	var replicas []airgap.Replica
	for _, h := range reg.Hosts {
		rep, err := c.registryReplica(registryInstance{reg: reg, index: index, host: c.Inv.Host(h)}, ca)
		if err != nil {
			return nil, err
		}
		rep.Auth = authn.FromConfig(authn.AuthConfig{Username: cred.User, Password: cred.Password})
		replicas = append(replicas, rep)
	}
	return replicas, nil
}

// mirrored checks that nodes find an image pushed to the registry: the registry mirrors the upstream it is named
// after.
func mirrored(reg *inventory.Registry, ref string) error {
	up, err := airgap.UpstreamOf(ref)
	if err != nil {
		return err
	}
	for _, m := range reg.Mirrors {
		if m == up {
			return nil
		}
	}
	return fmt.Errorf("image %s is named after %s, which registry %s does not mirror (it mirrors: %s): nodes would not find it; add %s to its mirrors in the inventory and run berth install, or name the image after a mirrored registry",
		ref, up, reg.Name, strings.Join(reg.Mirrors, ", "), up)
}

// pushArchives is the push of berth images push, one replica after the other.
type pushArchives struct {
	phase.Base
	c        *Cluster
	archives []*airgap.Archive
	replicas []airgap.Replica
	hosts    []string
	done     []airgap.ReplicaPush
}

func (p *pushArchives) Title() string { return "Push the images to every replica" }
func (p *pushArchives) Name() string  { return "push" }

func (p *pushArchives) Run(ctx context.Context) error {
	for i, r := range p.replicas {
		for _, a := range p.archives {
			res, err := airgap.PushArchive(ctx, a, []airgap.Replica{r})
			if err != nil {
				return errors.Join(fmt.Errorf("replica %s", p.hosts[i]), err)
			}
			for _, rp := range res {
				p.Logf(p.hosts[i], "%s: %d images, %d pushed, %s sent in %s", a.Path, rp.Images, rp.Pushed, airgap.HumanBytes(rp.Sent), rp.Duration.Round(time.Millisecond))
				p.done = append(p.done, rp)
			}
		}
	}
	return nil
}
