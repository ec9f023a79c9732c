package airgap

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// Relays let hosts pass staged content on to each other, so that each byte crosses the link from the machine
// running berth (often a bastion's thin uplink) once: the first host is sent its content from here, and every
// host that holds its content then sends another host what it lacks, over the plane image traffic uses, doubling
// the senders each round. Each hop is checked as strictly as a send from here: the receiving host keeps a file
// only if its sha256 is the name it was sent under, and berth checks that it received exactly the files it was
// sent. A relay that fails for any reason (no address on the plane, a port that will not open, a sender that
// died) is reported and the host is sent its content from here instead.
//
// How a host reaches another: the receiving host runs, for the transfer only, an sshd of its own bound to its
// address on that plane (the host's own sshd, on the management plane, is left alone), as a transient systemd
// unit that stops by itself after 30 minutes at most. Its host key and the one client key it accepts are made
// by berth for that transfer; the key is accepted only from the sender's address and only for a forced command
// that receives files into the stage directory. The sender holds the client key under /run (0600, root) and
// trusts exactly that host key. Everything is removed when the transfer ends, and whatever a killed run left, by
// the next run.
type Relays struct {
	// Address returns a host's address on the plane relays use (image traffic: the storage plane); "" keeps the
	// host out of relays.
	Address func(host string) string
	// Rate is the transfer rate assumed between hosts, bytes per second; 0 means DefaultRelayRate. Relays are used
	// when the link from the machine running berth is too slow to beat them at that rate (see Stage).
	Rate int64
	// Below is the rate of the link from the machine running berth, bytes per second, under which relays are
	// considered at all; 0 means DefaultRelayBelow. A faster link sends every host its content directly: relays
	// cost the hosts CPU (ssh, tar, sha256 at every hop) that a fast link does not need.
	Below int64
}

// DefaultRelayRate is the rate assumed for a relay between two hosts: 100 MiB/s, a 1 Gbit/s data-centre link.
const DefaultRelayRate = 100 << 20

// DefaultRelayBelow is the link rate under which relays are considered: 32 MiB/s, about 270 Mbit/s, a WAN or a
// bastion's uplink rather than a data-centre network.
const DefaultRelayBelow = 32 << 20

// relayProbe is how much of the first node's content is sent before the link from here is judged.
const relayProbe = 64 << 20

const (
	relayDir      = "/run/berth-relay"             // keys, sshd configuration (tmpfs: gone at reboot)
	relayReceiver = "/var/lib/berth/relay-receive" // the forced command's script
	relayUnit     = "berth-relay-"                 // transient units of the receiving sshd, then the run's id
	relayMaxLife  = 30 * time.Minute               // a receiving sshd stops by itself after this
	relayTimeout  = 10 * time.Second               // the sender's SSH connect timeout
	relayStageDir = StageDir + "/sha256"           // where received files go
	relayHexChars = "0123456789abcdef"             // a staged file's name: 64 of these
)

// receiveScript is the receiving host's forced command for a stage directory (StageDir): it unpacks the tar stream
// on its input into a directory of its own, keeps each regular file whose name is the sha256 of its content (moved
// to stage/sha256/), prints the names it kept, and removes anything else. It exits non-zero if anything was
// refused.
func receiveScript(stage string) string {
	return fmt.Sprintf(`set -u
umask 077
mkdir -p %[1]s/sha256
d=$(mktemp -d %[1]s/relay.XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT
tar -x -f - -C "$d" --no-same-owner --no-same-permissions || exit 1
rc=0
for f in "$d"/*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  b=${f##*/}
  case "$b" in *[!%[2]s]*) echo "refused $b: not a staged file's name" >&2; rc=1; continue;; esac
  if [ ${#b} -ne 64 ] || [ -L "$f" ] || [ ! -f "$f" ]; then echo "refused $b: not a staged file" >&2; rc=1; continue; fi
  if [ "$(sha256sum < "$f" | cut -c1-64)" != "$b" ]; then echo "refused $b: sha256 mismatch" >&2; rc=1; continue; fi
  if chmod 0600 "$f" && mv -f "$f" %[1]s/sha256/"$b"; then echo "kept $b"; else rc=1; fi
done
exit $rc
`, remote.Quote(stage), relayHexChars)
}

// relayRun is the relays of one stage phase: its id and client key, and which hosts took part.
type relayRun struct {
	r    *Relays
	host func(string) (remote.Host, error)
	id   string
	pub  string // client key, authorized_keys form
	priv []byte // client key, OpenSSH PEM

	mu      sync.Mutex
	touched map[string]bool // hosts that got keys or ran a receiver
}

func newKey(comment string) (pub string, priv []byte, err error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		return "", nil, err
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))), pem.EncodeToMemory(block), nil
}

func newRelayRun(r *Relays, host func(string) (remote.Host, error)) (*relayRun, error) {
	pub, priv, err := newKey("berth staging relay")
	if err != nil {
		return nil, err
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &relayRun{r: r, host: host, id: hex.EncodeToString(id), pub: pub, priv: priv, touched: map[string]bool{}}, nil
}

func (rr *relayRun) touch(h string) {
	rr.mu.Lock()
	rr.touched[h] = true
	rr.mu.Unlock()
}

// send relays files from src, which holds them, to dst. It returns the bytes moved.
func (rr *relayRun) send(ctx context.Context, src, dst string, files []Staged) (int64, error) {
	srcAddr, dstAddr := rr.r.Address(src), rr.r.Address(dst)
	if srcAddr == "" || dstAddr == "" {
		return 0, errors.New("a host has no address on the relay plane")
	}
	hs, err := rr.host(src)
	if err != nil {
		return 0, err
	}
	hd, err := rr.host(dst)
	if err != nil {
		return 0, err
	}
	port, hostKey, err := rr.receive(ctx, hd, dst, srcAddr, dstAddr)
	if err != nil {
		return 0, fmt.Errorf("start the receiver on %s: %w", dst, err)
	}
	defer rr.stopReceiver(hd)
	names := make([]string, len(files))
	var size int64
	for i, f := range files {
		names[i] = path.Base(f.Remote)
		size += f.Size
	}
	rr.touch(src)
	dir := relayDir + "/send-" + rr.id
	arm := fmt.Sprintf(`umask 077 && mkdir -p %[1]s && cat > %[1]s/key && printf '%%s\n' %[2]s > %[1]s/known_hosts-%[3]s`,
		dir, remote.Quote(fmt.Sprintf("[%s]:%d %s", dstAddr, port, hostKey)), dst)
	if _, err := hs.Run(ctx, remote.Cmd{Command: arm, Stdin: strings.NewReader(string(rr.priv))}); err != nil {
		return 0, fmt.Errorf("give %s the relay key: %w", src, err)
	}
	// The receiver's command is forced; the one named here is only for the reader of ps.
	cmd := fmt.Sprintf("cd %s && tar -cf - -- %s | ssh -i %s/key -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=%s/known_hosts-%s "+
		"-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=%d -o ServerAliveInterval=15 "+
		"-p %d -l root %s berth-relay-receive",
		relayStageDir, strings.Join(names, " "), dir, dir, dst, int(relayTimeout/time.Second), port, remote.Quote(dstAddr))
	out, err := hs.Exec(ctx, cmd)
	if err != nil {
		return 0, err
	}
	kept := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "kept "); ok {
			kept[name] = true
		}
	}
	for _, n := range names {
		if !kept[n] {
			return 0, fmt.Errorf("%s did not receive %s", dst, n)
		}
	}
	return size, nil
}

// receive starts dst's receiving sshd, bound to its relay address on a free port, accepting the run's client key
// from srcAddr only, and returns the port and its host key.
func (rr *relayRun) receive(ctx context.Context, hd remote.Host, dst, srcAddr, dstAddr string) (int, string, error) {
	hostPub, hostPriv, err := newKey("berth staging relay receiver")
	if err != nil {
		return 0, "", err
	}
	var p [2]byte
	if _, err := rand.Read(p[:]); err != nil {
		return 0, "", err
	}
	port := 40000 + int(binary.BigEndian.Uint16(p[:]))%20000 // one free high port, most likely; a taken one fails the relay
	dir := relayDir + "/recv-" + rr.id
	config := fmt.Sprintf(`Port %[1]d
ListenAddress %[2]s
HostKey %[3]s/host_key
PidFile none
AuthorizedKeysFile %[3]s/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ForceCommand /bin/sh %[4]s
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PermitUserRC no
MaxSessions 1
LogLevel ERROR
`, port, dstAddr, dir, relayReceiver)
	auth := fmt.Sprintf(`restrict,from="%s" %s berth-relay-%s`, srcAddr, rr.pub, rr.id)
	// Files arrive as one stream of "name length" lines each followed by its content: the host key, the
	// authorized key, the configuration and the receiving script.
	var in strings.Builder
	for _, f := range []struct{ name, data string }{{"host_key", string(hostPriv)}, {"authorized_keys", auth + "\n"},
		{"sshd_config", config}, {"receive", receiveScript(StageDir)}} {
		fmt.Fprintf(&in, "%s %d\n%s", f.name, len(f.data), f.data)
	}
	script := fmt.Sprintf(`set -e
umask 077
mkdir -p %[1]s %[2]s
while read -r name len; do head -c "$len" > %[2]s/"$name"; done
mv -f %[2]s/receive %[3]s
/usr/sbin/sshd -t -f %[2]s/sshd_config
systemd-run --unit %[4]s --collect --quiet --property=RuntimeMaxSec=%[5]d -- /usr/sbin/sshd -D -e -f %[2]s/sshd_config
for i in $(seq 1 50); do
  if ss -Hltn "sport = :%[6]d" | grep -q .; then exit 0; fi
  systemctl is-active --quiet %[4]s || break
  sleep 0.1
done
journalctl --no-pager -o cat -n 5 -u %[4]s >&2
exit 1
`, path.Dir(relayReceiver), dir, relayReceiver, relayUnit+rr.id, int(relayMaxLife/time.Second), port)
	rr.touch(dst)
	if _, err := hd.Run(ctx, remote.Cmd{Command: script, Stdin: strings.NewReader(in.String())}); err != nil {
		rr.stopReceiver(hd)
		return 0, "", err
	}
	return port, hostPub, nil
}

// stopReceiver stops a host's receiving sshd and removes its keys, with a context of its own.
func (rr *relayRun) stopReceiver(hd remote.Host) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _ = hd.Exec(ctx, fmt.Sprintf("systemctl stop %s%s 2>/dev/null; rm -rf %s/recv-%s; true", relayUnit, rr.id, relayDir, rr.id))
}

// cleanup removes the run's keys and receivers from every host that took part, with a context of its own: it
// runs when the phase ends, however it ends.
func (rr *relayRun) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rr.mu.Lock()
	hosts := slices.Sorted(maps.Keys(rr.touched))
	rr.mu.Unlock()
	clearRelays(ctx, rr.host, hosts)
}

// clearRelays removes berth's relay keys and receivers from hosts, all at once; a host it cannot reach is left to
// the next run (its receiver stops by itself within relayMaxLife).
func clearRelays(ctx context.Context, host func(string) (remote.Host, error), hosts []string) {
	_ = phase.ParallelEach(ctx, phase.DefaultConcurrency, hosts, func(h string) string { return h }, func(ctx context.Context, name string) error {
		if e, err := host(name); err == nil {
			_, _ = e.Exec(ctx, removeRelays)
		}
		return nil
	})
}

// removeRelays stops every receiving sshd of berth on a host and removes every relay key (a run killed before its
// cleanup leaves them; its receivers would stop by themselves within relayMaxLife).
var removeRelays = fmt.Sprintf(`systemctl stop '%s*' 2>/dev/null; rm -rf %s; true`, relayUnit, relayDir)
