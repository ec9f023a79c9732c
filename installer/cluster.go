package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/preflight"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Cluster is what the phases of one install share: the inputs, the connections, and what has been learned about
// the hosts and the cluster so far.
type Cluster struct {
	Inv      *inventory.Inventory
	Bundle   *bundles.Bundle
	Pool     *remote.Pool
	Log      *slog.Logger
	CacheDir string // local cache of files extracted from the bundle
	StateDir string // the cluster's state directory (journal, kubeconfig)

	preflight *preflight.Phase // its report holds the OS facts of every host

	mu     sync.Mutex
	states map[string]*HostState // install state of each host, read by the facts phase
	kube   *kubeClient           // the API, once a control plane is up
	join   *joinSecrets          // token, CA hash and certificate key for joins, once created
}

// Host returns the executor of a host.
func (c *Cluster) Host(name string) (*remote.Executor, error) { return c.Pool.Get(name) }

// First returns the control plane that initialises the cluster.
func (c *Cluster) First() *inventory.Host { return c.Inv.ControlPlanes()[0] }

// State returns what the facts phase read from a host.
func (c *Cluster) State(host string) *HostState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.states[host]; ok {
		return s
	}
	return &HostState{Packages: map[string]string{}, Files: map[string]string{}}
}

func (c *Cluster) setState(host string, s *HostState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = map[string]*HostState{}
	}
	c.states[host] = s
}

// OSFacts returns the preflight facts of a host (cgroups, kernel features, sysctls).
func (c *Cluster) OSFacts(host string) (*preflight.Facts, error) {
	if c.preflight != nil {
		if rep := c.preflight.Report(); rep != nil {
			for _, f := range rep.Facts {
				if f.Host == host {
					return f, nil
				}
			}
		}
	}
	e, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	return preflight.Gather(context.Background(), e)
}

// names returns the names of hosts.
func names(hosts []*inventory.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// allHosts returns the name of every host in the inventory.
func (c *Cluster) allHosts() []string {
	out := make([]string, len(c.Inv.Hosts))
	for i, h := range c.Inv.Hosts {
		out[i] = h.Name
	}
	return out
}

// desiredFile is a file a phase wants on a host with exactly this content and mode.
type desiredFile struct {
	Path    string
	Content []byte
	Mode    uint32
	InPlace bool // write through the existing inode (bind-mounted files like /etc/hosts cannot be renamed over)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// remoteDigests returns the sha256 of each path on the host ("" for files that do not exist), in one command.
func remoteDigests(ctx context.Context, e *remote.Executor, paths []string) (map[string]string, error) {
	out := map[string]string{}
	if len(paths) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteString("set --\n")
	for _, p := range paths {
		q := remote.Quote(p)
		fmt.Fprintf(&b, "if [ -f %s ]; then set -- \"$@\" %s; fi\n", q, q)
	}
	b.WriteString(remote.HashArgs)
	res, err := e.Run(ctx, remote.Cmd{Command: "sh -s", Stdin: strings.NewReader(b.String())})
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if sum, path, ok := remote.ParseHashLine(line); ok {
			out[path] = sum
		}
	}
	return out, nil
}

// ensureFiles makes the host's files match, changing (through the gate) only those that differ, and returns the
// paths it changed (or, in a dry run, would change).
func ensureFiles(ctx context.Context, s *phase.Session, host string, e *remote.Executor, files []desiredFile) ([]string, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	have, err := remoteDigests(ctx, e, paths)
	if err != nil {
		return nil, err
	}
	// Files replaced by rename go to the host in one batch once the gate has let each through; files written
	// through their inode (InPlace) are written one by one.
	var changed []string
	var batch []remote.File
	for _, f := range files {
		if have[f.Path] == sha256Hex(f.Content) {
			continue
		}
		f := f
		action := "write " + f.Path
		if have[f.Path] == "" {
			action = "create " + f.Path
		}
		err := s.Wet(host, action, func() error {
			if f.InPlace {
				_, err := e.Run(ctx, remote.Cmd{Command: "cat > " + remote.Quote(f.Path), Stdin: strings.NewReader(string(f.Content))})
				return err
			}
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			batch = append(batch, remote.File{Data: f.Content, Dst: f.Path, Mode: fsMode(mode)})
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("%s: %w", f.Path, err)
		}
		changed = append(changed, f.Path)
	}
	if len(batch) > 0 {
		if _, err := e.PutFiles(ctx, batch, nil); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func dirOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
