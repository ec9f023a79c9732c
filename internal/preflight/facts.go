package preflight

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthsh/berth/internal/planes"
	"github.com/berthsh/berth/internal/remote"
)

// Host is what preflight needs of a host: running commands. It has no way to upload or write files, which is part
// of how preflight guarantees it changes nothing. *remote.Executor satisfies it.
type Host interface {
	Host() string
	Sudo() bool
	Run(ctx context.Context, c remote.Cmd) (remote.Result, error)
}

// factsScript prints read-only facts in sections. Every command in it only reads.
const factsScript = `export LC_ALL=C
s() { echo "### $1"; }
s os; cat /etc/os-release 2>/dev/null
s kernel; uname -r
s arch; uname -m
s hostname; hostname
s nproc; nproc
s meminfo; grep -E '^(MemTotal|SwapTotal):' /proc/meminfo
s swaps; tail -n +2 /proc/swaps 2>/dev/null
s disk; df -PB1 /var/lib 2>/dev/null | tail -n 1
s links; ip -o link show
s addrs; ip -o -4 addr show
s listen; ss -Hlntup 2>/dev/null
s cgroupfs; stat -fc %T /sys/fs/cgroup; [ -d /sys/fs/cgroup/unified ] && echo hybrid
s cgroup2; cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null
s cgroup1; tail -n +2 /proc/cgroups 2>/dev/null
s init; cat /proc/1/comm
s modules; cut -d' ' -f1 /proc/modules 2>/dev/null
s builtin; cat /lib/modules/$(uname -r)/modules.builtin 2>/dev/null | sed 's|.*/||; s|\.ko.*||'
s loadable; for m in br_netfilter overlay vxlan; do p=$(modinfo -n $m 2>/dev/null) && echo $m; done
s sysmodule; for m in br_netfilter overlay vxlan bridge; do [ -d /sys/module/$m ] && echo $m; done
s filesystems; cut -f2 /proc/filesystems
s sysctl; for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do printf '%s=' $k; cat /proc/sys/$k 2>/dev/null || echo missing; done
s end
`

// Facts are what preflight read from one host.
type Facts struct {
	Host          string            `json:"host"`
	OSID          string            `json:"osID"`
	OSVersion     string            `json:"osVersion"`
	OSName        string            `json:"osName"`
	Kernel        string            `json:"kernel"`
	Arch          string            `json:"arch"` // as bundles name it: amd64, arm64 (uname -m's x86_64, aarch64)
	Hostname      string            `json:"hostname"`
	CPUs          int               `json:"cpus"`
	MemoryBytes   int64             `json:"memoryBytes"`
	SwapBytes     int64             `json:"swapBytes"`
	Swaps         []string          `json:"swaps,omitempty"`
	DiskFreeBytes int64             `json:"diskFreeBytes"` // on the file system holding /var/lib
	DiskSizeBytes int64             `json:"diskSizeBytes"` // the size of that file system
	Links         map[string]Link   `json:"links"`
	Addrs         []Addr            `json:"addrs"`
	Listeners     []Listener        `json:"listeners"`
	CgroupFS      string            `json:"cgroupFS"` // cgroup2fs (v2) or tmpfs (v1)
	CgroupHybrid  bool              `json:"cgroupHybrid"`
	Controllers   map[string]bool   `json:"controllers"` // usable controllers
	Init          string            `json:"init"`
	Modules       map[string]string `json:"modules"` // name -> loaded | builtin | loadable | sysfs
	Filesystems   []string          `json:"filesystems"`
	Sysctls       map[string]string `json:"sysctls"`
	ClockOffset   time.Duration     `json:"clockOffset"` // host clock minus local clock
	ClockRTT      time.Duration     `json:"clockRTT"`
	Sudo          *SudoFact         `json:"sudo,omitempty"`
}

// SudoFact records whether non-interactive sudo worked for the login user.
type SudoFact struct {
	OK  bool   `json:"ok"`
	Err string `json:"error,omitempty"`
}

// Link is a network interface.
type Link struct {
	Name    string `json:"name"`
	Up      bool   `json:"up"`      // administratively up
	Carrier bool   `json:"carrier"` // the cable is in and the other end is up (LOWER_UP)
}

// Addr is an IPv4 address on an interface.
type Addr struct {
	Interface string `json:"interface"`
	CIDR      string `json:"cidr"` // 10.20.0.11/24
}

// Listener is a listening socket.
type Listener struct {
	Proto   string `json:"proto"` // tcp or udp
	Address string `json:"address"`
	Port    int    `json:"port"`
	Process string `json:"process,omitempty"`
}

// Gather reads the facts of one host: sudo first (true, run through sudo the way every command is, with the sudo
// password when the host has one), then the facts script, then the clock.
func Gather(ctx context.Context, h Host) (*Facts, error) {
	f := &Facts{Host: h.Host()}
	if h.Sudo() {
		_, err := h.Run(ctx, remote.Cmd{Command: "true"})
		f.Sudo = &SudoFact{OK: err == nil}
		if err != nil {
			f.Sudo.Err = err.Error()
		}
	}
	// Without working sudo the facts are still worth reading as the login user.
	res, err := h.Run(ctx, remote.Cmd{Command: factsScript, NoSudo: f.Sudo != nil && !f.Sudo.OK})
	if err != nil {
		return f, fmt.Errorf("read facts: %w", err)
	}
	if err := parseFacts(f, res.Stdout); err != nil {
		return f, err
	}
	if err := measureClock(ctx, h, f); err != nil {
		return f, err
	}
	return f, nil
}

// measureClock compares the host's clock with the local one, correcting for the round trip: three samples, the one
// with the shortest round trip wins.
func measureClock(ctx context.Context, h Host, f *Facts) error {
	best := time.Duration(-1)
	for range 3 {
		before := time.Now()
		res, err := h.Run(ctx, remote.Cmd{Command: "date +%s%N", NoSudo: true})
		after := time.Now()
		if err != nil {
			return fmt.Errorf("read clock: %w", err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(res.Stdout), 10, 64)
		if err != nil {
			return fmt.Errorf("read clock: unexpected date output %q", res.Stdout)
		}
		rtt := after.Sub(before)
		if best < 0 || rtt < best {
			best = rtt
			mid := before.Add(rtt / 2)
			f.ClockOffset = time.Unix(0, ns).Sub(mid)
			f.ClockRTT = rtt
		}
	}
	return nil
}

func parseFacts(f *Facts, out string) error {
	sections := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20) // grows as long lines need, up to 1 MiB
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "### "); ok {
			cur = name
			sections[cur] = nil
			continue
		}
		if cur != "" && strings.TrimSpace(line) != "" {
			sections[cur] = append(sections[cur], line)
		}
	}
	if _, ok := sections["end"]; !ok {
		return fmt.Errorf("read facts: output ended early (is /bin/sh a POSIX shell?)")
	}
	for _, l := range sections["os"] {
		k, v, _ := strings.Cut(l, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			f.OSID = v
		case "VERSION_ID":
			f.OSVersion = v
		case "PRETTY_NAME":
			f.OSName = v
		}
	}
	f.Kernel = first(sections["kernel"])
	f.Arch = goArch(first(sections["arch"]))
	f.Hostname = first(sections["hostname"])
	f.CPUs, _ = strconv.Atoi(first(sections["nproc"]))
	for _, l := range sections["meminfo"] {
		fs := strings.Fields(l)
		if len(fs) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fs[1], 10, 64)
		switch fs[0] {
		case "MemTotal:":
			f.MemoryBytes = kb << 10
		case "SwapTotal:":
			f.SwapBytes = kb << 10
		}
	}
	for _, l := range sections["swaps"] {
		f.Swaps = append(f.Swaps, strings.Fields(l)[0])
	}
	if fs := strings.Fields(first(sections["disk"])); len(fs) >= 4 {
		f.DiskSizeBytes, _ = strconv.ParseInt(fs[1], 10, 64)
		f.DiskFreeBytes, _ = strconv.ParseInt(fs[3], 10, 64)
	}
	f.Links = parseLinks(sections["links"])
	f.Addrs = parseAddrs(sections["addrs"])
	f.Listeners = parseListeners(sections["listen"])
	if cg := sections["cgroupfs"]; len(cg) > 0 {
		f.CgroupFS = cg[0]
		f.CgroupHybrid = len(cg) > 1 && cg[1] == "hybrid"
	}
	f.Controllers = parseControllers(f.CgroupFS, sections["cgroup2"], sections["cgroup1"])
	f.Init = first(sections["init"])
	f.Modules = map[string]string{}
	for _, kind := range []string{"loadable", "builtin", "sysmodule", "modules"} {
		for _, m := range sections[kind] {
			f.Modules[m] = map[string]string{"modules": "loaded", "builtin": "built-in", "loadable": "loadable",
				"sysmodule": "present"}[kind]
		}
	}
	f.Filesystems = sections["filesystems"]
	f.Sysctls = map[string]string{}
	for _, l := range sections["sysctl"] {
		k, v, _ := strings.Cut(l, "=")
		f.Sysctls[strings.ReplaceAll(k, "/", ".")] = v
	}
	return nil
}

// goArch names a machine as Go and bundles do; uname -m names the common ones otherwise.
func goArch(machine string) string {
	switch machine {
	case "x86_64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "armv6l":
		return "arm"
	case "i386", "i686":
		return "386"
	}
	return machine // ppc64le, s390x, riscv64 have the same names
}

func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSpace(lines[0])
}

// parseLinks reads `ip -o link show`: "4: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...".
func parseLinks(lines []string) map[string]Link {
	out := map[string]Link{}
	for _, l := range lines {
		fs := strings.Fields(l)
		if len(fs) < 3 {
			continue
		}
		name := strings.TrimSuffix(fs[1], ":")
		name, _, _ = strings.Cut(name, "@")
		link := Link{Name: name}
		for _, fl := range strings.Split(strings.Trim(fs[2], "<>"), ",") {
			switch fl {
			case "UP":
				link.Up = true
			case "LOWER_UP":
				link.Carrier = true
			}
		}
		out[name] = link
	}
	return out
}

// parseAddrs reads `ip -o -4 addr show`: "4: eth0    inet 10.20.0.11/24 brd ... scope global eth0".
func parseAddrs(lines []string) []Addr {
	var out []Addr
	for _, l := range lines {
		fs := strings.Fields(l)
		if len(fs) < 4 || fs[2] != "inet" {
			continue
		}
		name, _, _ := strings.Cut(fs[1], "@")
		out = append(out, Addr{Interface: name, CIDR: fs[3]})
	}
	return out
}

// parseListeners reads `ss -Hlntup`: "tcp LISTEN 0 128 127.0.0.1:2222 0.0.0.0:* users:(("sshd",pid=1,fd=4))".
// A line that is not a socket's is passed over: the facts report what can be read.
func parseListeners(lines []string) []Listener {
	var out []Listener
	for _, line := range lines {
		l, err := planes.ParseLine(line)
		if err != nil {
			continue
		}
		out = append(out, Listener{Proto: l.Proto, Address: l.Address, Port: l.Port, Process: l.Process})
	}
	return out
}

// parseControllers lists the usable cgroup controllers: v2 from cgroup.controllers, v1 from /proc/cgroups
// (enabled and mounted in a hierarchy).
func parseControllers(fs string, v2, v1 []string) map[string]bool {
	out := map[string]bool{}
	if fs == "cgroup2fs" {
		for _, l := range v2 {
			for _, c := range strings.Fields(l) {
				out[c] = true
			}
		}
		return out
	}
	for _, l := range v1 {
		f := strings.Fields(l)
		if len(f) == 4 && f[1] != "0" && f[3] == "1" {
			out[f[0]] = true
		}
	}
	return out
}
