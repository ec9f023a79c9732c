package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

var (
	keyPin    = key.NewBinding(key.WithKeys("ctrl+p"), key.WithHelp("ctrl+p", "pin offered host key"))
	keyYesNo  = key.NewBinding(key.WithKeys("y", "n"), key.WithHelp("y/n", "answer"))
	keyTestIt = key.NewBinding(key.WithKeys("ctrl+t"), key.WithHelp("ctrl+t", "test connection"))
)

// sshPage edits ssh: login user, keys, known_hosts, bastion, and tests the settings on one address.
type sshPage struct {
	formPage
	bastion  *inventory.Bastion // kept while the address is cleared, so retyping it restores the rest
	testAddr string
	asking   bool // asking whether to pin the offered key
}

func newSSHPage(m *Model) page {
	p := &sshPage{}
	p.formPage = formPage{m: m, name: "SSH access",
		intro:    "How berth logs in to every host. Paths are relative to the inventory file. Host keys are always verified: give a known_hosts file, or test a host and pin the key it offers.",
		prefixes: []string{"ssh"}, extra: []key.Binding{keyTestIt}}
	p.build = p.fields
	p.below = p.testView
	p.onKey = p.key
	return p
}

func (p *sshPage) enter() tea.Cmd {
	m := p.m
	if m.inv.SSH.Bastion != nil {
		p.bastion = m.inv.SSH.Bastion
	} else if p.bastion == nil {
		p.bastion = &inventory.Bastion{}
	}
	if p.testAddr == "" && len(m.inv.Hosts) > 0 {
		p.testAddr = m.inv.Hosts[0].Address
	}
	p.asking = false
	return p.formPage.enter()
}

func (p *sshPage) modal() bool { return p.asking }

func (p *sshPage) keys() []key.Binding {
	if p.asking {
		return []key.Binding{keyYesNo}
	}
	ks := p.formPage.keys()
	if he := p.m.disc.result(p.m, p.testHost()).hostKey(); he != nil && !he.Changed {
		ks = append(ks, keyPin)
	}
	return ks
}

func (p *sshPage) fields() []*field {
	s := &p.m.inv.SSH
	g, set := bindString(&s.User)
	user := newText("ssh.user", "User", "default: root", g, set)
	user.hint = "a user other than root runs every command through non-interactive sudo"
	g, set = bindInt(&s.Port)
	port := newText("ssh.port", "Port", "default: 22", g, set)
	g, set = bindList(&s.IdentityFiles)
	keys := newText("ssh.identityFiles", "Key files", "e.g. keys/id_ed25519", g, set)
	keys.hint = "private keys, comma-separated; passphrase-protected keys need the agent"
	agent := newChoice("ssh.agent", "Use ssh-agent", []string{"no", "yes"},
		func() string { return yesNo(s.Agent) },
		func(v string) error { s.Agent = v == "yes"; return nil })
	g, set = bindSecret(&s.PasswordFrom)
	pw := newText("ssh.passwordFrom", "Password from", "optional: env:VAR or file:PATH", g, set)
	pw.hint = "never the password itself: where berth reads it"
	g, set = bindString(&s.KnownHosts)
	kh := newText("ssh.knownHosts", "known_hosts", "e.g. known_hosts", g, set)
	kh.hint = "file with the hosts' keys (ssh-keyscan output); leave empty to pin keys host by host"

	b := p.bastion
	noBastion := func() bool { return s.Bastion == nil }
	bAddr := newText("ssh.bastion", "Bastion", "none", func() string { return b.Address }, func(v string) error {
		b.Address = strings.TrimSpace(v)
		if b.Address == "" && b.User == "" && b.IdentityFile == "" && b.HostKey == "" && b.PasswordFrom == "" {
			s.Bastion = nil
		} else {
			s.Bastion = b
		}
		return nil
	})
	bAddr.hint = "jump host every connection goes through; empty for none"
	g, set = bindString(&b.User)
	bUser := newText("ssh.bastion.user", "Bastion user", "same as User", g, set)
	bUser.hidden = noBastion
	g, set = bindString(&b.IdentityFile)
	bKey := newText("ssh.bastion.identityFile", "Bastion key", "same as Key files", g, set)
	bKey.hidden = noBastion
	g, set = bindString(&b.HostKey)
	bHK := newText("ssh.bastion.hostKey", "Bastion host key", "SHA256:… (or list it in known_hosts)", g, set)
	bHK.hidden = noBastion

	test := newText("", "Test on", "address of one host", func() string { return p.testAddr },
		func(v string) error { p.testAddr = strings.TrimSpace(v); return nil })
	test.hint = "not written to the inventory: an address to try these settings on"
	run := newAction("", "Test connection", p.test)
	run.hint = "enter tests these settings on the address above; enter again goes on"
	run.done = func() bool {
		r := p.m.disc.result(p.m, p.testHost())
		return p.testAddr == "" || p.m.opts.Discoverer == nil || (r != nil && r.status != probeRunning)
	}
	return []*field{user, port, keys, agent, pw, kh, bAddr, bUser, bKey, bHK, test, run}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// testHost is the pseudo host the test runs against.
func (p *sshPage) testHost() *inventory.Host {
	if h := p.hostAt(p.testAddr); h != nil {
		return h
	}
	return &inventory.Host{Name: "test", Address: p.testAddr}
}

func (p *sshPage) hostAt(addr string) *inventory.Host {
	for i := range p.m.inv.Hosts {
		if p.m.inv.Hosts[i].Address == addr {
			return &p.m.inv.Hosts[i]
		}
	}
	return nil
}

func (p *sshPage) test() tea.Cmd {
	if p.m.opts.Discoverer == nil {
		p.m.flash = "connection tests are not available in this build"
		return nil
	}
	if p.testAddr == "" {
		p.m.flash = "type an address to test on first"
		return nil
	}
	return p.m.disc.start(p.m, p.testHost(), true)
}

func (p *sshPage) key(msg tea.KeyMsg) (tea.Cmd, bool) {
	r := p.m.disc.result(p.m, p.testHost())
	if p.asking {
		switch msg.String() {
		case "y":
			p.asking = false
			if he := r.hostKey(); he != nil {
				p.pin(he.Fingerprint)
				p.m.changed()
				return p.test(), true
			}
		case "n", "esc":
			p.asking = false
		}
		return nil, true
	}
	switch msg.String() {
	case "ctrl+t":
		return p.test(), true
	case "ctrl+p":
		if he := r.hostKey(); he != nil && !he.Changed {
			p.asking = true
		}
		return nil, true
	}
	return nil, false
}

// pin records a fingerprint for the test address in ssh.hostKeys.
func (p *sshPage) pin(fp string) {
	s := &p.m.inv.SSH
	for i := range s.HostKeys {
		if s.HostKeys[i].Address == p.testAddr {
			s.HostKeys[i].Fingerprints = append(s.HostKeys[i].Fingerprints, fp)
			return
		}
	}
	s.HostKeys = append(s.HostKeys, inventory.HostPins{Address: p.testAddr, Fingerprints: []string{fp}})
}

func (p *sshPage) testView(w int) string {
	if p.testAddr == "" {
		return ""
	}
	r := p.m.disc.result(p.m, p.testHost())
	return probeDetail(r, p.testAddr, p.asking, w)
}

// probeDetail explains a probe result in full: who we are on the host, its NICs, or why it failed and what to do.
func probeDetail(r *probeResult, addr string, asking bool, w int) string {
	var b strings.Builder
	switch {
	case r == nil:
		return st.dim.Render("Not tested yet with these settings.")
	case r.status == probeRunning:
		return st.dim.Render("Connecting to " + addr + "…")
	case r.status == probeOK:
		f := r.facts
		b.WriteString(st.ok.Render(fmt.Sprintf("✓ connected to %s (%s) as %s", addr, f.Hostname, f.User)))
		switch f.Sudo {
		case "":
		case "ok":
			b.WriteString(st.ok.Render(", sudo works"))
		default:
			b.WriteString("\n" + paint(st.err, wrapText("✗ sudo: "+f.Sudo, w, "  ")))
		}
		b.WriteString("\n")
		for _, i := range f.Interfaces {
			var addrs []string
			for _, a := range i.Addrs {
				addrs = append(addrs, a.String())
			}
			state := ""
			if !i.Up {
				state = " (down)"
			}
			b.WriteString(st.dim.Render(fmt.Sprintf("  %-10s %s%s", i.Name, strings.Join(addrs, " "), state)) + "\n")
		}
		return b.String()
	}
	b.WriteString(paint(st.err, wrapText("✗ "+r.err.Error(), w, "  ")) + "\n")
	if he := r.hostKey(); he != nil && !he.Changed {
		if asking {
			b.WriteString(paint(st.warn, wrapText(fmt.Sprintf("Pin %s %s for %s? Only if it matches `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console. y/n", he.KeyType, he.Fingerprint, addr), w, "")) + "\n")
		} else {
			b.WriteString(st.dim.Render("ctrl+p pins the offered key after you compared it with the host's console.") + "\n")
		}
	}
	return b.String()
}
