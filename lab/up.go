package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/berthsh/berth/inventory"
)

// Up creates the lab described by opts, or brings an existing one to that shape: missing networks, hosts and files
// are created, stopped hosts started, hosts no longer asked for removed. Running the same Up twice leaves the same
// lab (same containers, addresses, keys). It returns when every host's sshd answers, with known_hosts and
// inventory.yaml written.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("lab", opts.Name)
	start := time.Now()
	cli, err := newDocker(ctx)
	if err != nil {
		return nil, err
	}
	l, err := up(ctx, cli, opts)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("lab %s up: %w", opts.Name, err)
	}
	log.Info("lab is up", "hosts", len(l.Hosts), "inventory", l.InventoryPath, "took", time.Since(start).Round(100*time.Millisecond))
	return l, nil
}

func up(ctx context.Context, cli *client.Client, opts Options) (*Lab, error) {
	log := opts.Logger.With("lab", opts.Name)
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create lab state directory: %w", err)
	}
	lock, err := lockFile(ctx, filepath.Join(opts.StateDir, "."+opts.Name+".lock"))
	if err != nil {
		return nil, err
	}
	defer lock.unlock()

	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	img, err := ensureImage(ctx, cli, cacheDir, log)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(opts.StateDir, opts.Name)
	labels := map[string]string{labelLab: opts.Name, labelDir: dir}
	if opts.Test {
		labels[labelTest] = "true"
	}
	l, err := ensureLabNetworks(ctx, cli, opts, dir, labels)
	if err != nil {
		return nil, err
	}
	l.log = log
	l.Image = img
	st := &state{Name: opts.Name, Index: -1, Subnets: map[inventory.PlaneName]string{}, ControlPlanes: opts.ControlPlanes,
		Workers: opts.Workers, Registries: opts.Registries, Storage: opts.Storage, Image: img, Test: opts.Test, Created: time.Now().UTC()}
	if old, err := readState(dir); err == nil {
		st.Index, st.Created = old.Index, old.Created
	}
	for plane, p := range l.Subnets {
		st.Subnets[plane] = p.String()
	}
	l.Hosts = buildHosts(opts.Name, planHosts(opts.ControlPlanes, opts.Workers, opts.Registries, opts.Storage), l.Subnets)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lab directory: %w", err)
	}
	if err := writeState(dir, st); err != nil {
		return nil, err
	}
	pub, err := ensureKey(dir, opts.Name)
	if err != nil {
		return nil, err
	}
	if err := l.removeExtraHosts(ctx); err != nil {
		return nil, err
	}

	keys := make([]hostKeys, len(l.Hosts))
	errs := make([]error, len(l.Hosts))
	var wg sync.WaitGroup
	for i := range l.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &l.Hosts[i]
			t0 := time.Now()
			created, err := l.ensureHost(ctx, h, labels, pub)
			if err != nil {
				errs[i] = err
				return
			}
			if created {
				log.Info("created host", "host", h.Name, "address", h.Address(), "took", time.Since(t0).Round(time.Millisecond))
			}
			t1 := time.Now()
			keys[i], errs[i] = l.waitReady(ctx, h)
			log.Debug("host ready", "host", h.Name, "took", time.Since(t1).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(l.KnownHostsPath, knownHostsData(keys), 0o644); err != nil {
		return nil, err
	}
	if err := l.writeInventory(); err != nil {
		return nil, err
	}
	return l, nil
}

// ensureLabNetworks finds or picks the lab's subnets and makes sure its networks exist. A new lab picks free
// subnets under a lock shared by the labs of the state directory; a lab that lost a race for subnets with a lab of
// another state directory (Docker refuses the overlapping network) picks again.
func ensureLabNetworks(ctx context.Context, cli *client.Client, opts Options, dir string, labels map[string]string) (*Lab, error) {
	st, err := readState(dir)
	if err != nil && !errors.Is(err, errNoLab) {
		return nil, err
	}
	if st == nil {
		st, err = stateFromNetworks(ctx, cli, opts.Name)
		if err != nil {
			return nil, err
		}
	}
	if st != nil {
		for plane, cidr := range opts.Subnets {
			if st.Subnets[plane] != cidr {
				return nil, fmt.Errorf("the %s plane has subnet %s, not %s: run `berth lab down --name %s` first to change subnets",
					plane, st.Subnets[plane], cidr, opts.Name)
			}
		}
		l, err := labFromState(dir, st, cli, nil)
		if err != nil {
			return nil, err
		}
		return l, l.ensureNetworks(ctx, labels)
	}

	lock, err := lockFile(ctx, filepath.Join(opts.StateDir, ".subnets.lock"))
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lab directory: %w", err)
	}
	// Subnets Docker refused as overlapping: another lab's network being created right now, not listed yet.
	var refused []takenNet
	for attempt := 1; ; attempt++ {
		taken, err := dockerSubnets(ctx, cli, opts.Name)
		if err != nil {
			return nil, err
		}
		taken = append(taken, otherLabSubnets(opts.StateDir, opts.Name)...)
		taken = append(taken, refused...)
		subnets, index, err := allocateSubnets(opts.Subnets, taken)
		if err != nil {
			return nil, err
		}
		st := &state{Name: opts.Name, Index: index, Subnets: map[inventory.PlaneName]string{}, Created: time.Now().UTC()}
		for plane, p := range subnets {
			st.Subnets[plane] = p.String()
		}
		// Record the choice before creating networks, so labs started next to this one see it at once.
		if err := writeState(dir, st); err != nil {
			return nil, err
		}
		l, err := labFromState(dir, st, cli, nil)
		if err != nil {
			return nil, err
		}
		err = l.ensureNetworks(ctx, labels)
		if err == nil {
			return l, nil
		}
		if !isOverlap(err) || index < 0 || attempt == 5 {
			return nil, err
		}
		opts.Logger.Debug("subnets taken meanwhile by another lab; picking again", "lab", opts.Name, "index", index, "err", err)
		for _, p := range subnets {
			refused = append(refused, takenNet{p, "a network being created by another lab"})
		}
		if err := removeNetworks(ctx, cli, opts.Name); err != nil {
			return nil, err
		}
	}
}

// stateFromNetworks recovers the subnets of a lab whose directory was lost but whose networks still exist.
func stateFromNetworks(ctx context.Context, cli *client.Client, lab string) (*state, error) {
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: labFilter(lab)})
	if err != nil {
		return nil, fmt.Errorf("list networks of lab %s: %w", lab, err)
	}
	st := &state{Name: lab, Index: -1, Subnets: map[inventory.PlaneName]string{}, Created: time.Now().UTC()}
	for _, n := range nets {
		if len(n.IPAM.Config) > 0 {
			if _, err := netip.ParsePrefix(n.IPAM.Config[0].Subnet); err == nil {
				st.Subnets[inventory.PlaneName(n.Labels[labelPlane])] = n.IPAM.Config[0].Subnet
			}
		}
	}
	for _, plane := range inventory.AllPlanes {
		if st.Subnets[plane] == "" {
			return nil, nil
		}
	}
	return st, nil
}

// removeExtraHosts removes the lab's containers (and their volumes and egress rules) that the current shape no
// longer has.
func (l *Lab) removeExtraHosts(ctx context.Context) error {
	want := map[string]bool{}
	for _, h := range l.Hosts {
		want[h.Name] = true
	}
	ctrs, err := l.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: labFilter(l.Name)})
	if err != nil {
		return fmt.Errorf("list hosts of lab %s: %w", l.Name, err)
	}
	for _, c := range ctrs {
		host := c.Labels[labelHost]
		if want[host] {
			continue
		}
		l.log.Info("removing host no longer in the lab's shape", "host", host)
		if err := removeContainer(ctx, l.docker, c.ID); err != nil {
			return err
		}
		if err := removeVolumes(ctx, l.docker, l.Name, host); err != nil {
			return err
		}
		if err := removeEgressRules(ctx, l.Name, host); err != nil {
			return err
		}
	}
	return nil
}
