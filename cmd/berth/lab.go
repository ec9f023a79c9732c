package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
)

func newLabCmd(a *app) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run sandbox hosts on this machine to rehearse installs",
		Long: `A lab is a set of sandbox hosts on this machine: Docker containers that boot systemd and OpenSSH like a freshly
installed Debian 12 server, each with one NIC per network plane (eth0 management, eth1 control, eth2 storage,
eth3 business) on its own Docker network. 'berth lab up' writes an inventory for them, so every berth command can
be rehearsed on the lab before a change window. See docs/lab.md.

Needs a running Docker engine and, the first time, debootstrap and the machine's Debian mirror (hack/deps.sh
installs both). Run as root.`,
		Example: `  berth lab up                                  # 3 control planes, 2 workers
  berth inventory validate -i ~/.local/state/berth/labs/berth/inventory.yaml
  berth lab ssh cp1 -- ip -br addr
  berth lab status
  berth lab down`,
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", "", "where lab directories live (default ~/.local/state/berth/labs)")
	cmd.AddCommand(newLabUpCmd(a, &stateDir), newLabDownCmd(a, &stateDir), newLabStatusCmd(a, &stateDir),
		newLabListCmd(a), newLabSSHCmd(a, &stateDir))
	return cmd
}

func newLabUpCmd(a *app, stateDir *string) *cobra.Command {
	opts := lab.Options{ControlPlanes: 3, Workers: 2}
	var subnets []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or converge a lab and write its inventory",
		Long: `Creates the lab's networks and hosts, waits until every host's sshd answers, collects the host keys into the
lab's known_hosts and writes inventory.yaml into the lab directory. Running it again on an existing lab changes
nothing, starts hosts that were stopped, and adds or removes hosts when the counts changed.

Addresses: control planes .11-.19, workers .21-.29, registries .31-.39 on every plane; storage hosts .41-.49 on
the management and storage planes only (the storage zone: they are not Kubernetes nodes); .1 is this machine (the
Docker gateway); .100 on the control plane is reserved for the API VIP. Each lab gets its own subnets
(172.30.10.0/24, .20, .30, .40 for the first; 172.30.11.0/24, .21, ... for the next) unless --subnet says otherwise.

The first run builds the host image with debootstrap from this machine's Debian mirror (a few minutes); later runs
reuse it and take seconds.`,
		Example: `  berth lab up
  berth lab up --name rehearsal --control-planes 1 --workers 1
  berth lab up --name zones --control-planes 1 --workers 1 --storage 1
  berth lab up --name dr --subnet management=10.50.10.0/24 --subnet control=10.50.20.0/24`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range subnets {
				plane, cidr, ok := strings.Cut(s, "=")
				if !ok {
					return usageError{fmt.Errorf("--subnet %q: write PLANE=CIDR, e.g. management=10.50.10.0/24", s), cmd.CommandPath()}
				}
				if opts.Subnets == nil {
					opts.Subnets = map[inventory.PlaneName]string{}
				}
				opts.Subnets[inventory.PlaneName(plane)] = cidr
			}
			opts.StateDir = *stateDir
			opts.Logger = a.log
			start := time.Now()
			l, err := lab.Up(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer l.Close()
			if a.machine() {
				return a.print(labView(l))
			}
			fmt.Fprintf(a.out, "lab %s: %d hosts up in %s\n\n", l.Name, len(l.Hosts), time.Since(start).Round(100*time.Millisecond))
			printHosts(a, l)
			fmt.Fprintf(a.out, "\ncontrol-plane VIP  %s (reserved on the control plane)\n", l.VIP)
			fmt.Fprintf(a.out, "inventory          %s\n", l.InventoryPath)
			fmt.Fprintf(a.out, "log in             berth lab ssh --name %s %s\n", l.Name, l.Hosts[0].Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", lab.DefaultName, "lab name (Docker objects are called berth-NAME-...)")
	f.IntVar(&opts.ControlPlanes, "control-planes", 3, "control-plane hosts (cp1, cp2, ...)")
	f.IntVar(&opts.Workers, "workers", 2, "worker hosts (worker1, ...)")
	f.IntVar(&opts.Registries, "registries", 0, "registry hosts (registry1, ...)")
	f.IntVar(&opts.Storage, "storage", 0, "storage-zone hosts with management and storage NICs only (storage1, ...)")
	f.StringArrayVar(&subnets, "subnet", nil, "PLANE=CIDR: use this subnet for a plane (management, control, storage, business)")
	return cmd
}

// LabDownOutput is what `berth lab down -o json|yaml` prints.
type LabDownOutput struct {
	Removed []string `json:"removed"` // the labs removed
}

func newLabDownCmd(a *app, stateDir *string) *cobra.Command {
	var name string
	var all, tests bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove a lab: hosts, volumes, networks, egress rules and its directory",
		Long: `Removes everything of the lab: containers, their volumes, the plane networks, iptables rules added by fault
helpers, and the lab directory with its key and inventory. Finds the Docker objects by label, so it also cleans up
a lab whose directory was deleted. Removing a lab that does not exist succeeds.`,
		Example: `  berth lab down
  berth lab down --name rehearsal
  berth lab down --tests        # every lab created by tests (labtest), e.g. after make test`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all || tests {
				if cmd.Flags().Changed("name") {
					return usageError{errors.New("--name cannot be combined with --all or --tests"), cmd.CommandPath()}
				}
				removed, err := lab.DownAll(cmd.Context(), !all)
				if perr := printLabDown(a, removed); perr != nil {
					return perr
				}
				return err
			}
			if err := lab.Down(cmd.Context(), name, *stateDir); err != nil {
				return err
			}
			return printLabDown(a, []string{name})
		},
	}
	cmd.Flags().StringVar(&name, "name", lab.DefaultName, "lab name")
	cmd.Flags().BoolVar(&all, "all", false, "remove every lab on this Docker engine")
	cmd.Flags().BoolVar(&tests, "tests", false, "remove every lab created by tests")
	return cmd
}

func printLabDown(a *app, removed []string) error {
	if a.machine() {
		return a.print(LabDownOutput{Removed: append([]string{}, removed...)})
	}
	for _, n := range removed {
		fmt.Fprintf(a.out, "lab %s removed\n", n)
	}
	return nil
}

// LabStatusOutput is what `berth lab status -o json|yaml` prints.
type LabStatusOutput struct {
	Lab       string           `json:"lab"`
	Inventory string           `json:"inventory"`
	Hosts     []lab.HostStatus `json:"hosts"`
}

func newLabStatusCmd(a *app, stateDir *string) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's hosts: state, SSH, addresses, unplugged NICs, blocked egress",
		Example: `  berth lab status
  berth lab status --name rehearsal -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.Open(cmd.Context(), name, *stateDir)
			if err != nil {
				return err
			}
			defer l.Close()
			st, err := l.Status(cmd.Context())
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(LabStatusOutput{l.Name, l.InventoryPath, st})
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tSTATE\tSSH\tMANAGEMENT\tUNPLUGGED\tEGRESS")
			bad := 0
			for _, h := range st {
				ssh, egress, unplugged := "no", "open", "-"
				if h.SSH {
					ssh = "yes"
				} else {
					bad++
				}
				if h.EgressBlocked {
					egress = "blocked"
				}
				if len(h.Disconnected) > 0 {
					var p []string
					for _, d := range h.Disconnected {
						p = append(p, string(d))
					}
					unplugged = strings.Join(p, ",")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.State, ssh, h.NICs[inventory.Management].Address, unplugged, egress)
			}
			tw.Flush()
			fmt.Fprintf(a.out, "\ninventory: %s\n", l.InventoryPath)
			if bad > 0 {
				return codeError{fmt.Errorf("%d of %d hosts do not answer on SSH; `berth lab up --name %s` starts stopped hosts", bad, len(st), l.Name), exitFailure}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", lab.DefaultName, "lab name")
	return cmd
}

func newLabListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the labs on this Docker engine",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			labs, err := lab.List(cmd.Context())
			if err != nil {
				return err
			}
			if a.machine() {
				return a.print(labs)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LAB\tHOSTS\tRUNNING\tTEST\tDIRECTORY")
			for _, s := range labs {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%s\n", s.Name, s.Hosts, s.Running, s.Test, s.Dir)
			}
			return tw.Flush()
		},
	}
}

func newLabSSHCmd(a *app, stateDir *string) *cobra.Command {
	var name string
	cmd := onlyText(&cobra.Command{
		Use:   "ssh HOST [-- COMMAND...]",
		Short: "Log in to a lab host as the sudo user, with strict host-key checking",
		Long: `Runs the system's ssh client as the lab's sudo user with the lab's key and known_hosts; a host key that does
not match the one collected by 'berth lab up' is refused.`,
		Example: `  berth lab ssh cp1
  berth lab ssh worker1 -- sudo -n systemctl is-system-running`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("name the host to log in to, e.g. cp1"), cmd.CommandPath()}
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, h := range labHostNames(name, *stateDir) {
				if strings.HasPrefix(h, toComplete) {
					out = append(out, h)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Open(cmd.Context(), name, *stateDir)
			if err != nil {
				return err
			}
			defer l.Close()
			h, err := l.Host(args[0])
			if err != nil {
				return err
			}
			sshArgs := append(l.SSHArgs(h), args[1:]...)
			c := exec.CommandContext(cmd.Context(), "ssh", sshArgs...)
			c.Stdin, c.Stdout, c.Stderr = a.in, a.out, a.errOut
			err = c.Run()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return codeError{fmt.Errorf("ssh %s: exit %d", h.Name, exit.ExitCode()), exit.ExitCode()}
			}
			return err
		},
	})
	cmd.Flags().StringVar(&name, "name", lab.DefaultName, "lab name")
	return cmd
}

func printHosts(a *app, l *lab.Lab) {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tROLES\tMANAGEMENT (eth0)\tCONTROL (eth1)\tSTORAGE (eth2)\tBUSINESS (eth3)")
	for _, h := range l.Hosts {
		var roles []string
		for _, r := range h.Roles {
			roles = append(roles, string(r))
		}
		addr := func(p inventory.PlaneName) string {
			if nic, ok := h.NICs[p]; ok {
				return nic.Address
			}
			return "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, strings.Join(roles, ","), addr(inventory.Management),
			addr(inventory.Control), addr(inventory.StorageNet), addr(inventory.Business))
	}
	tw.Flush()
}

// LabOutput is what `berth lab up -o json|yaml` prints.
type LabOutput struct {
	Name       string                         `json:"name"`
	Dir        string                         `json:"dir"`
	Inventory  string                         `json:"inventory"`
	Key        string                         `json:"key"`
	KnownHosts string                         `json:"knownHosts"`
	User       string                         `json:"user"`
	VIP        string                         `json:"vip"`
	Subnets    map[inventory.PlaneName]string `json:"subnets"`
	Hosts      []LabHostOutput                `json:"hosts"`
}

// LabHostOutput is one host of LabOutput.
type LabHostOutput struct {
	Name  string                          `json:"name"`
	Roles []inventory.Role                `json:"roles"`
	NICs  map[inventory.PlaneName]lab.NIC `json:"nics"`
}

// labView is the LabOutput of a lab.
func labView(l *lab.Lab) LabOutput {
	v := LabOutput{Name: l.Name, Dir: l.Dir, Inventory: l.InventoryPath, Key: l.KeyPath, KnownHosts: l.KnownHostsPath, User: l.User,
		VIP: l.VIP, Subnets: map[inventory.PlaneName]string{}}
	for p, s := range l.Subnets {
		v.Subnets[p] = s.String()
	}
	for _, h := range l.Hosts {
		v.Hosts = append(v.Hosts, LabHostOutput{h.Name, h.Roles, h.NICs})
	}
	return v
}
