package lab

import (
	"context"
	"net"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthsh/berth/inventory"
)

// HostStatus is what Status found about one lab host.
type HostStatus struct {
	Name          string                      `json:"name"`
	Container     string                      `json:"container"`
	Roles         []inventory.Role            `json:"roles"`
	State         string                      `json:"state"` // Docker's container state: running, exited, ... or missing
	SSH           bool                        `json:"ssh"`   // sshd answers on the management address
	NICs          map[inventory.PlaneName]NIC `json:"nics"`
	Disconnected  []inventory.PlaneName       `json:"disconnected,omitempty"` // planes whose NIC has no cable (running hosts)
	EgressBlocked bool                        `json:"egressBlocked"`
}

// Status reports every host of the lab: container state, whether sshd answers, unplugged NICs, blocked egress.
func (l *Lab) Status(ctx context.Context) ([]HostStatus, error) {
	out := make([]HostStatus, len(l.Hosts))
	errs := make([]error, len(l.Hosts))
	var wg sync.WaitGroup
	for i := range l.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = l.hostStatus(ctx, &l.Hosts[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (l *Lab) hostStatus(ctx context.Context, h *Host) (HostStatus, error) {
	st := HostStatus{Name: h.Name, Container: h.Container, Roles: h.Roles, NICs: h.NICs, State: "missing"}
	insp, err := l.docker.ContainerInspect(ctx, h.Container)
	if cerrdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if insp.State != nil {
		st.State = insp.State.Status
	}
	if st.State == "running" {
		peers, err := l.cablePeers(ctx, h)
		if err != nil {
			return st, err
		}
		for _, plane := range h.Planes() {
			if p := peers[plane]; p == nil || p.Flags&net.FlagUp == 0 {
				st.Disconnected = append(st.Disconnected, plane)
			}
		}
		_, err = sshBanner(ctx, h.Address(), 2*time.Second)
		st.SSH = err == nil
	}
	st.EgressBlocked = l.egressBlocked(ctx, h.Name)
	return st, nil
}
