package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// CertsOptions configure berth certs check-expiration and berth certs renew.
type CertsOptions struct {
	Inventory      *inventory.Inventory // loaded and validated
	InventoryBytes []byte               // the file as read, for the journal's digest
	StateDir       string               // base of the state directories; "" for the default
	DryRun         bool                 // renew: print every change and wait, change nothing
	Observers      []phase.Observer
	Logger         *slog.Logger
	Command        string       // the command line, recorded in the lock
	Pool           *remote.Pool // host connections; nil connects to the inventory's hosts over SSH
}

// RenewResult is what a renewal did.
type RenewResult struct {
	Report     *phase.Report
	Before     *Certificates // as read before the first change
	After      *Certificates // as read after the last control plane
	StateDir   string
	Kubeconfig string // the admin kubeconfig berth keeps, refreshed when its certificate was renewed
}

// CheckExpiration reads kubeadm's certificates on every control plane: when each expires, which CA signed it, and
// which were renewed on disk but not yet loaded by the component that uses them. It changes nothing, needs no API
// (it works on a cluster whose certificates expired) and takes no lock.
func CheckExpiration(ctx context.Context, o CertsOptions) (*Certificates, error) {
	if o.Inventory == nil {
		return nil, errors.New("a certificate check needs an inventory")
	}
	a, err := action.Open(action.Options{Action: "certs-check", Inventory: o.Inventory, StateDir: o.StateDir, ReadOnly: true,
		Observers: o.Observers, Logger: o.Logger, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := installer.NewCluster(a, o.Inventory, nil, "")
	cps := hostNames(o.Inventory.ControlPlanes())
	var out *Certificates
	_, err = a.Run(ctx, &installer.Connect{C: c, Hosts: cps}, &phaseFunc{title: "Read the certificates of every control plane", name: "read",
		run: func(ctx context.Context, s *phase.Session) error {
			var err error
			out, err = readCertificates(ctx, c)
			return err
		}})
	return out, err
}

// readCertificates reads kubeadm's certificates on every control plane of the cluster's inventory, at once.
func readCertificates(ctx context.Context, c *installer.Cluster) (*Certificates, error) {
	cps := c.Inv.ControlPlanes()
	out := &Certificates{Cluster: c.Inv.Metadata.Name, Read: time.Now().UTC(), Hosts: make([]HostCertificates, len(cps))}
	var mu sync.Mutex
	err := phase.ParallelEach(ctx, 0, cps, func(h *inventory.Host) string { return h.Name }, func(ctx context.Context, h *inventory.Host) error {
		hc, err := readHostCerts(ctx, c, h.Name)
		mu.Lock()
		defer mu.Unlock()
		for i := range cps {
			if cps[i].Name == h.Name {
				out.Hosts[i] = HostCertificates{Host: h.Name}
				if err != nil {
					out.Hosts[i].Error = err.Error()
				} else {
					out.Hosts[i].Certificates = hc.certs
				}
			}
		}
		return err
	})
	return out, err
}

// readHostCerts runs certsScript on one control plane.
func readHostCerts(ctx context.Context, c *installer.Cluster, host string) (*hostCerts, error) {
	e, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	raw, err := e.Exec(ctx, certsScript())
	if err != nil {
		return nil, err
	}
	hc, err := parseCerts(raw)
	if err != nil {
		return nil, fmt.Errorf("certificates of %s: %w", host, err)
	}
	if len(hc.certs) == 0 {
		return nil, fmt.Errorf("%s has none of kubeadm's certificates: is the cluster installed there? (berth install)", host)
	}
	return hc, nil
}

// RenewCertificates renews kubeadm's certificates on every control plane, one at a time and the etcd leader's last,
// with the API answering throughout: each control plane is taken out of every haproxy and its etcd member's leadership handed on, then
// kubeadm certs renew all runs (as a systemd unit that finishes even if berth dies), its API server, controller
// manager, scheduler and etcd restart so that they load the new certificates (the kubelet starts each again), and
// once they run with them, its API server answers and its etcd member is healthy, it goes back into haproxy. The
// admin kubeconfig berth keeps is refreshed last. The CAs stay as they are; kubelets rotate their own certificates.
// It holds the cluster's lock; a run that stopped resumes where it stopped, and a finished one run again renews
// again.
func RenewCertificates(ctx context.Context, o CertsOptions) (*RenewResult, error) {
	if o.Inventory == nil {
		return nil, errors.New("a certificate renewal needs an inventory")
	}
	if len(o.Inventory.ControlPlanes()) == 0 {
		return nil, errors.New("the inventory has no control plane")
	}
	a, err := action.Open(action.Options{Action: "certs-renew", Inventory: o.Inventory, StateDir: o.StateDir, Journal: true,
		Inputs: []phase.Input{installer.InventoryInput(o.Inventory, o.InventoryBytes)}, OnChange: phase.RestartOnChange,
		Again: "renew", DryRun: o.DryRun, Observers: o.Observers, Logger: o.Logger, Command: o.Command, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := installer.NewCluster(a, o.Inventory, nil, "")
	cps := hostNames(o.Inventory.ControlPlanes())
	rn := &renewal{c: c}
	rep, err := a.Run(ctx, &installer.Connect{C: c, Hosts: cps}, &installer.Facts{C: c, Hosts: cps},
		&certsCheck{r: rn}, &renewCerts{r: rn}, installer.WriteKubeconfig(c))
	res := &RenewResult{Report: rep, Before: rn.before, After: rn.after, StateDir: a.Dir}
	if err == nil && !o.DryRun {
		res.Kubeconfig = filepath.Join(a.Dir, installer.KubeconfigFile)
	}
	return res, err
}

// renewal is what the phases of one renewal share.
type renewal struct {
	c             *installer.Cluster
	before, after *Certificates
}
