package installer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// RegistrySyncOptions configure berth registry sync.
type RegistrySyncOptions struct {
	Inventory *inventory.Inventory
	StateDir  string
	From, To  string   // the inventory's registries: any one, and a User registry
	Images    []string // names as the registries keep them (registry.k8s.io/pause:3.10); none: everything From serves
	Observers []phase.Observer
	Logger    *slog.Logger
	Pool      *remote.Pool
}

// RegistrySyncResult is what berth registry sync did.
type RegistrySyncResult struct {
	From   string                `json:"from"`
	Source string                `json:"source"` // the replica of From read
	To     string                `json:"to"`
	Images []airgap.ArchiveImage `json:"images"`
	Pushes []airgap.ReplicaPush  `json:"pushes"` // per replica of To
}

// maxSyncRefs bounds how many references one sync reads from its source.
const maxSyncRefs = 20000

// SyncRegistries copies images from one registry of the inventory to a User registry: read from the first
// replica of From that answers (anonymously, on its plane listener, as a node pulls), pushed to every replica of To
// through its push listener with the registry's credentials, only the blobs each lacks, every digest read back.
func SyncRegistries(ctx context.Context, o RegistrySyncOptions) (*RegistrySyncResult, error) {
	inv := o.Inventory
	from, fromIndex, err := findRegistry(inv, o.From)
	if err != nil {
		return nil, err
	}
	to, toIndex, err := pushTarget(inv, o.To)
	if err != nil {
		return nil, err
	}
	if from.Name == to.Name {
		return nil, fmt.Errorf("--from and --to both name registry %s: its replicas are filled together", from.Name)
	}
	a, err := action.Open(action.Options{Action: "registry-sync", Inventory: inv, StateDir: o.StateDir, ReadOnly: true,
		Observers: o.Observers, Logger: o.Logger, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, inv, nil, "")
	dst, err := c.userReplicas(to, toIndex)
	if err != nil {
		return nil, err
	}
	p := &syncRegistries{c: c, o: o, from: from, fromIndex: fromIndex, dst: dst, res: &RegistrySyncResult{From: from.Name, To: to.Name}}
	hosts := append(slices.Clone(from.Hosts), to.Hosts...)
	if _, err := a.Run(ctx, &Connect{C: c, Hosts: hosts}, p); err != nil {
		return nil, err
	}
	return p.res, nil
}

// syncRegistries is the copy of berth registry sync.
type syncRegistries struct {
	phase.Base
	c         *Cluster
	o         RegistrySyncOptions
	from      *inventory.Registry
	fromIndex int
	dst       []airgap.Replica
	res       *RegistrySyncResult
}

func (p *syncRegistries) Title() string {
	return "Copy the images from registry " + p.o.From + " to every replica of " + p.o.To
}
func (p *syncRegistries) Name() string { return "sync" }

func (p *syncRegistries) Run(ctx context.Context) error {
	c := p.c
	ca, err := c.RegistryCA(time.Now())
	if err != nil {
		return err
	}
	var problems []string
	for _, h := range p.from.Hosts {
		ri := registryInstance{reg: p.from, index: p.fromIndex, host: c.Inv.Host(h)}
		tr, err := c.registryTransport(h, ca)
		if err != nil {
			problems = append(problems, h+": "+err.Error())
			continue
		}
		src := airgap.Replica{Name: ri.String(), Addr: ri.planeAddr(), Transport: tr}
		if ok, why, _ := registryAnswers(tr, src.Addr)(ctx); !ok {
			tr.CloseIdleConnections()
			problems = append(problems, h+": "+why)
			continue
		}
		refs := p.o.Images
		if len(refs) == 0 {
			served, err := airgap.ReplicaRefs(ctx, src, maxSyncRefs)
			if err != nil {
				tr.CloseIdleConnections()
				problems = append(problems, h+": "+firstLine(err.Error()))
				continue
			}
			for ref := range served {
				refs = append(refs, ref)
			}
			slices.Sort(refs)
		}
		images, pushes, err := airgap.CopyImages(ctx, src, refs, p.dst)
		tr.CloseIdleConnections()
		if err != nil {
			return err
		}
		p.res.Source, p.res.Images, p.res.Pushes = ri.String(), images, pushes
		for _, r := range pushes {
			p.Logf("", "%s: %d images, %d pushed, %s sent in %s", r.Replica, r.Images, r.Pushed, airgap.HumanBytes(r.Sent), r.Duration.Round(time.Millisecond))
		}
		return nil
	}
	return fmt.Errorf("no replica of registry %s answers: %v", p.from.Name, problems)
}
