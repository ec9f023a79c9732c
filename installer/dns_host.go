package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/manifests"
)

// dnsmasqUnit is the systemd unit of Debian's dnsmasq package, which the os phase installs on every node with its
// services held back. The package enables it on installation, so berth decides on every node whether it runs: on
// the DNS hosts of the user variant with berth's configuration, nowhere else (a default dnsmasq would take port 53
// on every address after the next reboot).
const dnsmasqUnit = "dnsmasq.service"

// hostDnsmasq is what a node's dnsmasq service looks like now.
type hostDnsmasq struct {
	Installed bool   // the package's unit exists
	Enabled   string // systemctl is-enabled: enabled, disabled, masked, ...
	Active    string // systemctl is-active: active, inactive, failed, ...
	ConfSum   string // sha256 of berth's configuration file, "" when absent
}

func (s hostDnsmasq) enabled() bool { return s.Enabled == "enabled" }
func (s hostDnsmasq) active() bool {
	return s.Active == "active" || s.Active == "activating" || s.Active == "reloading"
}

// readHostDnsmasq reads a node's dnsmasq service in one command; it changes nothing.
func readHostDnsmasq(ctx context.Context, e remote.Host) (hostDnsmasq, error) {
	out, err := e.Exec(ctx, fmt.Sprintf(`echo enabled=$(%[3]s)
echo active=$(systemctl is-active %[1]s 2>/dev/null)
if [ -f %[2]s ]; then echo conf=$(sha256sum < %[2]s | cut -d' ' -f1); fi`, dnsmasqUnit, manifests.DNSHostConfPath,
		remote.UnitFileState(dnsmasqUnit)))
	if err != nil {
		return hostDnsmasq{}, fmt.Errorf("read the dnsmasq service: %w", err)
	}
	var s hostDnsmasq
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "enabled":
			s.Enabled = v
			s.Installed = v != "not-found"
		case "active":
			s.Active = v
		case "conf":
			s.ConfSum = v
		}
	}
	return s, nil
}

// hostDnsmasqPlan is what must change on one node for its dnsmasq service to be as the variant wants.
type hostDnsmasqPlan struct {
	Run bool // dnsmasq must run here (a DNS host of the user variant)

	WriteConf  []byte // berth's configuration to write, nil when it is right
	RemoveConf bool
	Unmask     bool // the unit is masked: unmask it before enabling
	Enable     bool
	Restart    bool // (re)start: not running, or its configuration changed
	Disable    bool
	Stop       bool
}

func (p hostDnsmasqPlan) empty() bool {
	return p.WriteConf == nil && !p.RemoveConf && !p.Unmask && !p.Enable && !p.Restart && !p.Disable && !p.Stop
}

// describe lists the changes for the plan and the log, in the order they are made.
func (p hostDnsmasqPlan) describe() []string {
	var out []string
	if p.WriteConf != nil {
		out = append(out, "write "+manifests.DNSHostConfPath)
	}
	if p.RemoveConf {
		out = append(out, "remove "+manifests.DNSHostConfPath)
	}
	if p.Unmask {
		out = append(out, "unmask "+dnsmasqUnit)
	}
	if p.Enable {
		out = append(out, "enable "+dnsmasqUnit)
	}
	if p.Restart {
		out = append(out, "(re)start "+dnsmasqUnit)
	}
	if p.Disable {
		out = append(out, "disable "+dnsmasqUnit)
	}
	if p.Stop {
		out = append(out, "stop "+dnsmasqUnit)
	}
	return out
}

// planHostDnsmasq compares a node's dnsmasq service with what it must be: running with conf when conf is not nil,
// else disabled, stopped and without berth's configuration.
func planHostDnsmasq(have hostDnsmasq, conf []byte) hostDnsmasqPlan {
	if conf != nil {
		p := hostDnsmasqPlan{Run: true}
		if have.ConfSum != airgap.SHA256(conf) {
			p.WriteConf = conf
		}
		p.Enable = !have.enabled()
		p.Unmask = have.Enabled == "masked"
		p.Restart = !have.active() || p.WriteConf != nil
		return p
	}
	if !have.Installed {
		return hostDnsmasqPlan{RemoveConf: have.ConfSum != ""}
	}
	return hostDnsmasqPlan{
		RemoveConf: have.ConfSum != "",
		Disable:    have.enabled(),
		Stop:       have.active(),
	}
}

// applyConfig makes the changes that do not touch the running service: the configuration file and the unit's
// enablement. Starting and stopping come separately, when the DNS pods allow them (port 53 is shared).
func (p hostDnsmasqPlan) applyConfig(ctx context.Context, e remote.Host) error {
	var cmds []string
	if p.WriteConf != nil {
		if _, err := e.WriteFile(ctx, manifests.DNSHostConfPath, p.WriteConf, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", manifests.DNSHostConfPath, err)
		}
	}
	if p.RemoveConf {
		cmds = append(cmds, "rm -f "+remote.Quote(manifests.DNSHostConfPath))
	}
	if p.Unmask {
		cmds = append(cmds, remote.UnmaskUnits(dnsmasqUnit))
	}
	if p.Enable {
		cmds = append(cmds, remote.EnableUnits(dnsmasqUnit))
	}
	if p.Disable {
		cmds = append(cmds, remote.DisableUnits(dnsmasqUnit))
	}
	if len(cmds) == 0 {
		return nil
	}
	_, err := e.Exec(ctx, strings.Join(cmds, " && "))
	return err
}
