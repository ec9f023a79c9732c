package lab_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// Helpers of the lab integration test: SSH as the inventory says, Docker leftovers, iptables rules, targets
// outside the lab, a nested container.

func clientConfig(t *testing.T, keyPath string, cb ssh.HostKeyCallback) *ssh.ClientConfig {
	t.Helper()
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{User: lab.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: cb, Timeout: 10 * time.Second}
}

// dial logs in to a host the way the inventory says: its user, key and known_hosts, nothing else trusted.
func dial(t *testing.T, inv *inventory.Inventory, h *inventory.Host) *ssh.Client {
	t.Helper()
	target := inv.SSHFor(h)
	cb, err := knownhosts.New(target.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(t, target.IdentityFiles[0], cb)
	cfg.User = target.User
	c, err := ssh.Dial("tcp", fmt.Sprintf("%s:%d", target.Address, target.Port), cfg)
	if err != nil {
		t.Fatalf("ssh %s@%s: %v", target.User, target.Address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func runErr(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return strings.TrimSpace(string(out)), err
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	out, err := runErr(c, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

func dialReach(t *testing.T, inv *inventory.Inventory, h *inventory.Host, addr string) bool {
	_, err := runErr(dial(t, inv, h), "ping -c3 -i0.3 -W2 "+addr)
	return err == nil
}

// nics returns interface -> IPv4 address of every NIC but lo, as the host itself reports them.
func nics(t *testing.T, c *ssh.Client) map[string]string {
	t.Helper()
	out := run(t, c, "ip -o -4 addr show")
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] != "lo" && f[2] == "inet" {
			got[f[1]] = strings.SplitN(f[3], "/", 2)[0]
		}
	}
	return got
}

func status(t *testing.T, l *lab.Lab, host string) lab.HostStatus {
	t.Helper()
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == host {
			return s
		}
	}
	t.Fatalf("status has no host %s", host)
	return lab.HostStatus{}
}

// snapshot summarises what must not change when Up runs again: container IDs and start times, key, known_hosts,
// inventory.
func snapshot(t *testing.T, l *lab.Lab) string {
	t.Helper()
	cli := docker(t)
	var b strings.Builder
	for _, h := range l.Hosts {
		insp, err := cli.ContainerInspect(context.Background(), h.Container)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%s@%s ", h.Name, insp.ID[:12], insp.State.StartedAt)
	}
	for _, f := range []string{l.KeyPath, l.KnownHostsPath, l.InventoryPath} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%x ", filepath.Base(f), data)
	}
	return b.String()
}

func docker(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// leftovers lists the Docker objects that still carry the lab's label.
func leftovers(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	cli := docker(t)
	f := filters.NewArgs(filters.Arg("label", "sh.berth.lab="+name))
	var left []string
	ctrs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		left = append(left, "network "+n.Name)
	}
	vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.Volumes {
		left = append(left, "volume "+v.Name)
	}
	return strings.Join(left, ", ")
}

// labRules returns the iptables rules of this test's lab still present on the machine.
func labRules(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command("iptables", "-S").CombinedOutput()
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "berth-lab:"+testLab+":") {
			rules = append(rules, line)
		}
	}
	return strings.Join(rules, "\n")
}

// dockerBridgeGateway is an address of this machine outside the lab's subnets (Docker's default bridge), which a
// lab host reaches through its gateway: traffic to the machine itself.
func dockerBridgeGateway(t *testing.T) string {
	t.Helper()
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		t.Fatalf("no docker0 on this machine: %v", err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatal("docker0 has no IPv4 address")
	return ""
}

// nestedContainer runs a container with runc (the machine's, copied in) inside a lab host, the way containerd will
// after an install, and checks that its cgroup is inside the host's part of the machine's cgroup tree.
func nestedContainer(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	ctx := context.Background()
	runc, err := exec.LookPath("runc")
	if err != nil {
		if labtest.InCI() {
			t.Fatal("runc (installed with docker.io) not found")
		}
		t.Skip("runc not found on this machine")
	}
	bin, err := os.ReadFile(runc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "usr/local/bin/runc", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg})
	tw.Write(bin)
	tw.Close()
	h, _ := l.Host(host)
	cli := docker(t)
	if err := cli.CopyToContainer(ctx, h.Container, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	// A root file system made of the host's own /usr, like an image's.
	script := `set -e
b=/var/lib/containerd/berth-nested-test
mkdir -p $b/rootfs/usr $b/rootfs/proc $b/rootfs/sys $b/rootfs/dev $b/rootfs/tmp $b/rootfs/etc
mountpoint -q $b/rootfs/usr || mount --bind /usr $b/rootfs/usr
for d in bin lib lib64 sbin; do ln -sfn usr/$d $b/rootfs/$d; done
cd $b && rm -f config.json && runc spec
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "30"/' config.json
runc delete -f nested >/dev/null 2>&1 || true
runc run -d nested >/dev/null
cat /proc/$(runc state nested | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')/cgroup | grep ':memory:'`
	out, err := l.Exec(ctx, host, "sh", "-c", script)
	t.Cleanup(func() {
		l.Exec(context.Background(), host, "sh", "-c", "runc delete -f nested; umount /var/lib/containerd/berth-nested-test/rootfs/usr; rm -rf /var/lib/containerd/berth-nested-test")
	})
	if err != nil {
		t.Fatalf("nested container: %v\n%s", err, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), ":memory:/nested") {
		t.Errorf("nested container's memory cgroup as the host sees it: %q, want /nested", out)
	}
	insp, err := cli.ContainerInspect(ctx, h.Container)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/docker/" + insp.ID + "/nested"); err != nil {
		t.Errorf("the nested container's cgroup is not under the host's own: %v", err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/nested"); err == nil {
		t.Error("the nested container's cgroup is at the machine's root, shared with every other host")
	}
}

// outsideTarget makes a network namespace on this machine with a TEST-NET address (192.0.2.2) behind a veth pair:
// a destination outside the lab that traffic reaches by being forwarded, like the world beyond a data centre,
// without anything leaving the machine.
func outsideTarget(t *testing.T) string {
	t.Helper()
	const ns, hostEnd, nsEnd = "berth-t-lab-out", "btlab-out0", "btlab-out1"
	cmds := [][]string{
		{"netns", "add", ns},
		{"link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd},
		{"link", "set", nsEnd, "netns", ns},
		{"addr", "add", "192.0.2.1/30", "dev", hostEnd},
		{"link", "set", hostEnd, "up"},
		{"-n", ns, "addr", "add", "192.0.2.2/30", "dev", nsEnd},
		{"-n", ns, "link", "set", nsEnd, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	}
	exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "link", "del", hostEnd).Run()
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hostEnd).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return "192.0.2.2"
}
