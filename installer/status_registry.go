package installer

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/pki"
	"github.com/berthsh/berth/inventory"
)

// RegistryStatus is one replica of a registry, read anonymously on its plane listener as any client reads it.
type RegistryStatus struct {
	Registry  string              `json:"registry"`
	Role      string              `json:"role"`
	Host      string              `json:"host"`
	Plane     inventory.PlaneName `json:"plane"`
	Address   string              `json:"address"`
	Reachable bool                `json:"reachable"`
	Images    int                 `json:"images"` // references (repository:tag) it serves
	InSync    bool                `json:"inSync"` // serves every reference any replica of the registry serves, with the same digest
	Detail    string              `json:"detail,omitempty"`
}

// maxStatusRefs bounds how many references status reads from one replica.
const maxStatusRefs = 5000

// readRegistries reads every replica of every registry berth runs: whether it answers over TLS with the registry
// CA, the references it serves with their digests, and whether its replicas agree.
func (st *Status) readRegistries(ctx context.Context, c *Cluster) {
	insts := c.registryInstances()
	if len(insts) == 0 {
		return
	}
	var ca *pki.CA
	var err error
	if c.registryCAExists() {
		ca, err = c.RegistryCA(time.Now())
	}
	if ca == nil || err != nil {
		for _, ri := range insts {
			st.Registries = append(st.Registries, RegistryStatus{Registry: ri.reg.Name, Role: ri.reg.Role, Host: ri.host.Name,
				Plane: ri.reg.Plane, Address: ri.planeAddr(), Detail: "no registry CA in " + c.StateDir + " (pass the --state-dir the cluster was installed with)"})
		}
		return
	}
	out := make([]RegistryStatus, len(insts))
	served := make([]map[string]string, len(insts))
	var mu sync.Mutex
	_ = phase.ParallelEach(ctx, phase.DefaultConcurrency, indexes(len(insts)), func(i int) string { return insts[i].String() },
		func(ctx context.Context, i int) error {
			ri := insts[i]
			rs := RegistryStatus{Registry: ri.reg.Name, Role: ri.reg.Role, Host: ri.host.Name, Plane: ri.reg.Plane, Address: ri.planeAddr()}
			refs, err := c.replicaRefs(ctx, ri, ca)
			if err != nil {
				rs.Detail = firstLine(err.Error())
			} else {
				rs.Reachable, rs.Images = true, len(refs)
			}
			mu.Lock()
			out[i], served[i] = rs, refs
			mu.Unlock()
			return nil
		})
	// In sync: every reachable replica serves exactly what all the registry's replicas serve together.
	union := map[string]map[string]string{}
	for i, ri := range insts {
		if union[ri.reg.Name] == nil {
			union[ri.reg.Name] = map[string]string{}
		}
		maps.Copy(union[ri.reg.Name], served[i])
	}
	for i, ri := range insts {
		if out[i].Reachable {
			out[i].InSync = maps.Equal(served[i], union[ri.reg.Name])
			if !out[i].InSync {
				out[i].Detail = fmt.Sprintf("serves %d of the registry's %d references, or another digest", len(served[i]), len(union[ri.reg.Name]))
			}
		}
	}
	st.Registries = out
}

// replicaRefs lists what a replica serves to any client: its plane listener, anonymously, through its host's SSH
// connection with the registry CA.
func (c *Cluster) replicaRefs(ctx context.Context, ri registryInstance, ca *pki.CA) (map[string]string, error) {
	tr, err := c.registryTransport(ri.host.Name, ca)
	if err != nil {
		return nil, err
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return airgap.ReplicaRefs(ctx, airgap.Replica{Name: ri.String(), Addr: ri.planeAddr(), Transport: tr}, maxStatusRefs)
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
