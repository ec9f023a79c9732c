package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// Down removes a lab completely: its containers, their volumes, its networks, its egress rules and its lab
// directory. It finds the Docker objects by label, so it also cleans up after a lab whose directory is gone.
// Removing a lab that does not exist is not an error.
func Down(ctx context.Context, name, stateDir string) error {
	if name == "" {
		name = DefaultName
	}
	if err := ValidateName(name); err != nil {
		return err
	}
	if stateDir == "" {
		var err error
		if stateDir, err = DefaultStateDir(); err != nil {
			return err
		}
	}
	cli, err := newDocker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("create lab state directory: %w", err)
	}
	lock, err := lockFile(ctx, filepath.Join(stateDir, "."+name+".lock"))
	if err != nil {
		return err
	}
	defer lock.unlock()
	if err := downLab(ctx, cli, name, filepath.Join(stateDir, name)); err != nil {
		return fmt.Errorf("lab %s down: %w", name, err)
	}
	os.Remove(filepath.Join(stateDir, "."+name+".lock"))
	return nil
}

func downLab(ctx context.Context, cli *client.Client, name, dir string) error {
	dirs := map[string]bool{dir: true}
	ctrs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: labFilter(name)})
	if err != nil {
		return fmt.Errorf("list hosts: %w", err)
	}
	errs := make([]error, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		if d := c.Labels[labelDir]; d != "" {
			dirs[d] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = removeContainer(ctx, cli, c.ID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := removeVolumes(ctx, cli, name, ""); err != nil {
		return err
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: labFilter(name)})
	if err == nil {
		for _, n := range nets {
			if d := n.Labels[labelDir]; d != "" {
				dirs[d] = true
			}
		}
	}
	if err := removeNetworks(ctx, cli, name); err != nil {
		return err
	}
	if err := removeEgressRules(ctx, name, ""); err != nil {
		return err
	}
	for d := range dirs {
		if d == "" {
			continue
		}
		if err := removeLabDir(d, name); err != nil {
			return err
		}
	}
	return nil
}

// removeLabDir removes a lab directory, but only one that is what it claims to be: its lab.json names the lab.
func removeLabDir(dir, name string) error {
	st, err := readState(dir)
	if errors.Is(err, errNoLab) {
		// A directory without lab.json is left alone unless it is empty or holds only what Up writes first.
		entries, rerr := os.ReadDir(dir)
		if rerr != nil {
			return nil
		}
		for _, e := range entries {
			switch e.Name() {
			case keyFile, keyFile + ".pub", knownHostsFile, inventoryFile:
			default:
				return nil
			}
		}
		return os.RemoveAll(dir)
	}
	if err != nil || st.Name != name {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove lab directory: %w", err)
	}
	return nil
}

// removeVolumes removes the lab's volumes, or with host set only that host's.
func removeVolumes(ctx context.Context, cli *client.Client, lab, host string) error {
	f := labFilter(lab)
	if host != "" {
		f.Add("label", labelHost+"="+host)
	}
	vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vols.Volumes {
		if err := cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// Summary is a lab found on the Docker engine.
type Summary struct {
	Name    string `json:"name"`
	Dir     string `json:"dir,omitempty"`
	Test    bool   `json:"test,omitempty"`
	Hosts   int    `json:"hosts"`
	Running int    `json:"running"`
}

// List returns the labs that have containers or networks on the Docker engine, sorted by name.
func List(ctx context.Context) ([]Summary, error) {
	cli, err := newDocker(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	return listLabs(ctx, cli)
}

func listLabs(ctx context.Context, cli *client.Client) ([]Summary, error) {
	any := filters.NewArgs(filters.Arg("label", labelLab))
	labs := map[string]*Summary{}
	get := func(labels map[string]string) *Summary {
		name := labels[labelLab]
		s := labs[name]
		if s == nil {
			s = &Summary{Name: name}
			labs[name] = s
		}
		if d := labels[labelDir]; d != "" {
			s.Dir = d
		}
		if labels[labelTest] == "true" {
			s.Test = true
		}
		return s
	}
	ctrs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: any})
	if err != nil {
		return nil, fmt.Errorf("list lab hosts: %w", err)
	}
	for _, c := range ctrs {
		s := get(c.Labels)
		s.Hosts++
		if c.State == "running" {
			s.Running++
		}
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: any})
	if err != nil {
		return nil, fmt.Errorf("list lab networks: %w", err)
	}
	for _, n := range nets {
		get(n.Labels)
	}
	vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: any})
	if err != nil {
		return nil, fmt.Errorf("list lab volumes: %w", err)
	}
	for _, v := range vols.Volumes {
		get(v.Labels)
	}
	out := make([]Summary, 0, len(labs))
	for _, s := range labs {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DownAll removes every lab on the Docker engine, or with testsOnly only the labs created by tests
// (Options.Test, as labtest.Require sets it). It returns the names of the labs removed.
func DownAll(ctx context.Context, testsOnly bool) ([]string, error) {
	cli, err := newDocker(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	labs, err := listLabs(ctx, cli)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, s := range labs {
		if testsOnly && !s.Test {
			continue
		}
		if err := downLab(ctx, cli, s.Name, s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("lab %s down: %w", s.Name, err))
			continue
		}
		removed = append(removed, s.Name)
	}
	return removed, errors.Join(errs...)
}
