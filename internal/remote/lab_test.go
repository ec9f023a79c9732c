package remote_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
	"github.com/berthsh/berth/lab/labtest"
)

// labOptions is the lab every test of this package shares: two control planes and a worker.
var labOptions = lab.Options{Name: "t-remote", ControlPlanes: 2, Workers: 1}

// labEnv is a running lab with its inventory.
type labEnv struct {
	lab *lab.Lab
	inv *inventory.Inventory
}

func requireLab(t testing.TB) *labEnv {
	t.Helper()
	l := labtest.Require(t, labOptions)
	inv, err := l.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	return &labEnv{lab: l, inv: inv}
}

// executor returns a fresh Executor for a lab host, closed at the end of the test.
func (env *labEnv) executor(t testing.TB, host string) *remote.Executor {
	t.Helper()
	h := env.inv.Host(host)
	if h == nil {
		t.Fatalf("no host %s", host)
	}
	e, err := remote.New(remote.Config{Target: action.Target(env.inv, h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// rootExec runs a command as root in the lab host's container (docker exec), for assertions.
func (env *labEnv) rootExec(t testing.TB, host, script string) string {
	t.Helper()
	out, err := env.lab.Exec(context.Background(), host, "sh", "-c", script)
	if err != nil {
		t.Fatalf("docker exec on %s: %s: %v\n%s", host, script, err, out)
	}
	return strings.TrimSpace(out)
}

func TestLabExecAsSudoUser(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	e := env.executor(t, "cp1")
	if !e.Sudo() || e.Target().User != "berth" {
		t.Fatalf("lab login is %s (sudo %v), want the sudo user berth", e.Target().User, e.Sudo())
	}
	if out, err := e.Exec(ctx, "id -u"); err != nil || out != "0" {
		t.Fatalf("id -u through sudo = %q, %v; want 0", out, err)
	}
	res, err := e.Run(ctx, remote.Cmd{Command: "id -un", NoSudo: true})
	if err != nil || strings.TrimSpace(res.Stdout) != "berth" {
		t.Fatalf("id -un without sudo = %q, %v", res.Stdout, err)
	}
	// Root-only files are readable through sudo.
	if b, err := e.ReadFile(ctx, "/etc/shadow"); err != nil || !strings.Contains(string(b), "root:") {
		t.Fatalf("read /etc/shadow: %v", err)
	}

	_, err = e.Exec(ctx, "echo to-stdout; echo to-stderr >&2; exit 7")
	var re *remote.RunError
	if !errors.As(err, &re) || re.ExitCode != 7 || re.Host != "cp1" {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{`run "echo to-stdout; echo to-stderr >&2; exit 7" on cp1: exit status 7`, "to-stdout", "to-stderr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}

	// Environment values reach the command but never the error.
	_, err = e.Run(ctx, remote.Cmd{Command: `echo "token is $API_TOKEN"; exit 1`, Env: map[string]string{"API_TOKEN": "tok-4f8a2"}})
	if err == nil || strings.Contains(err.Error(), "tok-4f8a2") || !strings.Contains(err.Error(), "token is ***") {
		t.Fatalf("secret handling: %v", err)
	}

	if got := e.Stats().Connects; got != 1 {
		t.Fatalf("%d SSH connections for one host, want 1 reused", got)
	}

	// Captured output is bounded; streaming has no bound.
	small, err := remote.New(remote.Config{Target: e.Target(), OutputLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Exec(ctx, "head -c 3000000 /dev/zero"); !errors.Is(err, remote.ErrOutputLimit) {
		t.Fatalf("3 MB into a 1 MiB capture: %v, want ErrOutputLimit", err)
	}
	var n countWriter
	if _, err := small.Run(ctx, remote.Cmd{Command: "head -c 3000000 /dev/zero", Stdout: &n}); err != nil || n != 3000000 {
		t.Fatalf("streamed %d bytes, %v", n, err)
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func TestLabSudoNeverPrompts(t *testing.T) {
	env := requireLab(t)
	// A user whose sudo wants a password, with the lab's key.
	env.rootExec(t, "cp2", `id askpw >/dev/null 2>&1 || useradd -m -s /bin/bash -p '*' askpw
		echo 'askpw ALL=(ALL) ALL' > /etc/sudoers.d/askpw; chmod 440 /etc/sudoers.d/askpw
		mkdir -p ~askpw/.ssh; cp ~berth/.ssh/authorized_keys ~askpw/.ssh/; chown -R askpw: ~askpw/.ssh`)
	t.Cleanup(func() {
		env.lab.Exec(context.Background(), "cp2", "sh", "-c", "userdel -r askpw; rm -f /etc/sudoers.d/askpw")
	})
	tgt := action.Target(env.inv, env.inv.Host("cp2"))
	tgt.User = "askpw"
	e, err := remote.New(remote.Config{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = e.Exec(ctx, "true")
	if !errors.Is(err, remote.ErrSudoPassword) {
		t.Fatalf("err = %v, want ErrSudoPassword", err)
	}
	if !strings.Contains(err.Error(), "askpw ALL=(ALL) NOPASSWD: ALL") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("sudo took %s to fail: it waited for a prompt", d)
	}
}

// writeRandomFile makes a file of n random bytes.
func writeRandomFile(t testing.TB, n int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "payload.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLabWriteLargeFile sends one 200 MB file from disk into a root-owned directory as the sudo user, through the
// one upload path (PutFiles): it lands whole with its sha256, mode and owner, progress reaches the end, a second
// write moves 0 bytes, and a changed file of the same size is sent again with a new mode applied.
func TestLabWriteLargeFile(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	const size = 200 << 20
	src := writeRandomFile(t, size)
	digest, err := remote.FileDigest(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := "/opt/berth-test/payload.bin" // a root-owned directory: the sudo user cannot write there itself
	env.rootExec(t, "worker1", "rm -rf /opt/berth-test")
	t.Cleanup(func() { env.lab.Exec(context.Background(), "worker1", "rm", "-rf", "/opt/berth-test") })
	e := env.executor(t, "worker1")

	var lastDone, lastTotal atomic.Int64
	progress := func(done, total int64) { lastDone.Store(done); lastTotal.Store(total) }
	put := func(mode os.FileMode, progress func(int64, int64)) remote.UploadResult {
		t.Helper()
		res, err := e.PutFiles(ctx, []remote.File{{Src: src, Dst: dst, Mode: mode}}, progress)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	res := put(0o640, progress)
	if res.Skipped || res.Sent != size || res.Digest != digest {
		t.Fatalf("first write: %+v", res)
	}
	if lastDone.Load() != size || lastTotal.Load() != size {
		t.Fatalf("progress ended at %d of %d", lastDone.Load(), lastTotal.Load())
	}
	got := env.rootExec(t, "worker1", "sha256sum "+dst+" | cut -c1-64; stat -c '%a %U:%G %s' "+dst+"; ls -A /opt/berth-test")
	want := fmt.Sprintf("%s\n640 root:root %d\npayload.bin", digest, size)
	if got != want {
		t.Fatalf("on the host:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("first write: %d bytes in %s (%.0f MB/s)", res.Sent, res.Duration, float64(size)/1e6/res.Duration.Seconds())

	// Second time: same digest on the host, nothing moves.
	before := e.Stats().BytesUploaded
	res = put(0o640, nil)
	if !res.Skipped || res.Sent != 0 || e.Stats().BytesUploaded != before {
		t.Fatalf("second write moved bytes: %+v (counter %d -> %d)", res, before, e.Stats().BytesUploaded)
	}

	// A changed file of the same size is sent again, with the new mode.
	f, _ := os.OpenFile(src, os.O_WRONLY, 0)
	f.WriteAt([]byte{0xff, 0x00, 0xff}, size/2)
	f.Close()
	res = put(0o600, nil)
	if res.Skipped || res.Sent != size {
		t.Fatalf("changed file: %+v", res)
	}
	newDigest, _ := remote.FileDigest(src)
	if got := env.rootExec(t, "worker1", "sha256sum "+dst+" | cut -c1-64; stat -c %a "+dst+"; ls -A /opt/berth-test"); got != newDigest+"\n600\npayload.bin" {
		t.Fatalf("host has %q, want the new content, mode 600 and no temporary file", got)
	}
	if got := e.Stats().Connects; got != 1 {
		t.Fatalf("%d connections for commands and files, want 1", got)
	}
}

func TestLabChangedHostKeyRefused(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	const host = "worker1"
	// Rotate every host key of worker1, keeping the old ones to put back.
	env.rootExec(t, host, `rm -rf /root/hostkeys.bak && mkdir /root/hostkeys.bak && cp -a /etc/ssh/ssh_host_* /root/hostkeys.bak/ &&
		rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh`)
	restored := false
	restore := func() {
		if !restored {
			env.lab.Exec(context.Background(), host, "sh", "-c", "cp -a /root/hostkeys.bak/* /etc/ssh/ && systemctl restart ssh && rm -rf /root/hostkeys.bak")
			restored = true
		}
	}
	t.Cleanup(restore)

	var err error
	var e *remote.Executor
	for range 20 { // sshd restarts asynchronously
		e = env.executor(t, host)
		if err = e.Connect(ctx); err != nil && strings.Contains(err.Error(), "connection refused") {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		break
	}
	var he *remote.HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("connect with a rotated host key: %v, want HostKeyError", err)
	}
	file := map[string]string{"ssh-ed25519": "ed25519", "ecdsa-sha2-nistp256": "ecdsa", "ssh-rsa": "rsa"}[he.KeyType]
	offered := env.rootExec(t, host, "ssh-keygen -lf /etc/ssh/ssh_host_"+file+"_key.pub | cut -d' ' -f2")
	if he.Offered != offered || len(he.Known) == 0 {
		t.Fatalf("error names %s (known %v), the host now offers %s", he.Offered, he.Known, offered)
	}
	for _, want := range []string{offered, "has changed", "ssh-keygen -R", "hosts[worker1].ssh.hostKeys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}

	// Pinning the new key accepts it deliberately.
	tgt := action.Target(env.inv, env.inv.Host(host))
	tgt.HostKeys = []string{offered}
	pinned, err := remote.New(remote.Config{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	if out, err := pinned.Exec(ctx, "hostname"); err != nil || out != host {
		t.Fatalf("pinned new key: %q, %v", out, err)
	}

	restore()
	for range 20 {
		e = env.executor(t, host)
		if err = e.Connect(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after restoring the keys: %v", err)
	}
}

func TestLabBastion(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	cp2 := env.inv.Host("cp2")
	direct := env.executor(t, "cp1")
	res, err := direct.Run(ctx, remote.Cmd{Command: "echo $SSH_CONNECTION", NoSudo: true})
	if err != nil {
		t.Fatal(err)
	}
	directFrom := strings.Fields(res.Stdout)[0]

	// The same inventory with cp2 as the bastion for every host.
	inv := *env.inv
	inv.SSH.Bastion = &inventory.Bastion{Address: cp2.Address}
	pool := action.NewPool(&inv, nil)
	defer pool.Close()
	for _, host := range []string{"cp1", "worker1"} {
		e, err := pool.Get(host)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(ctx, remote.Cmd{Command: "echo $SSH_CONNECTION", NoSudo: true})
		if err != nil {
			t.Fatalf("%s through the bastion: %v", host, err)
		}
		// SSH_CONNECTION is "client-ip client-port server-ip server-port" as the target's sshd saw it.
		from := strings.Fields(res.Stdout)[0]
		if from != cp2.Address || from == directFrom {
			t.Fatalf("%s saw the connection from %s; direct connections come from %s, the bastion is %s",
				host, from, directFrom, cp2.Address)
		}
		if out, err := e.Exec(ctx, "id -u"); err != nil || out != "0" {
			t.Fatalf("sudo through the bastion: %q %v", out, err)
		}
	}
	// The bastion's sshd sees the forwarded connections as direct-tcpip channels it opened to the targets.
	fwd := env.rootExec(t, "cp2", "ss -Htn state established '( dport = :22 )' | awk '{print $4}' | sort -u")
	for _, h := range []string{"cp1", "worker1"} {
		if !strings.Contains(fwd, env.inv.Host(h).Address+":22") {
			t.Errorf("bastion has no connection to %s:22; it has:\n%s", h, fwd)
		}
	}
}

func TestLabCancelKillsRemoteProcessGroup(t *testing.T) {
	env := requireLab(t)
	e := env.executor(t, "cp1")
	const pattern = "sleep 317[1-3]"
	env.lab.Exec(context.Background(), "cp1", "pkill", "-KILL", "-f", pattern) // leftovers of an earlier failed run
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// A background child, a foreground child, and one that ignores SIGTERM (so KILL has to follow).
	go func() {
		_, err := e.Exec(ctx, `sleep 3171 & sh -c "trap '' TERM; sleep 3172" & sleep 3173; echo finished`)
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := env.lab.Exec(context.Background(), "cp1", "sh", "-c", "pgrep -f '^"+pattern+"$' | wc -l")
		if strings.TrimSpace(out) == "3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote processes never started (%s)", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Exec did not return after cancellation")
	}
	t.Logf("cancelled in %s", time.Since(start))
	out, _ := env.lab.Exec(context.Background(), "cp1", "sh", "-c", "pgrep -af '"+pattern+"' || true")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("remote processes survived the cancellation:\n%s", out)
	}
	// The connection is still usable.
	if out, err := e.Exec(context.Background(), "echo alive"); err != nil || out != "alive" {
		t.Fatalf("after cancel: %q %v", out, err)
	}
}

func TestLabReconnectsAfterConnectionLoss(t *testing.T) {
	env := requireLab(t)
	e := env.executor(t, "cp2")
	ctx := context.Background()
	if _, err := e.Exec(ctx, "true"); err != nil {
		t.Fatal(err)
	}
	// Kill the login's sshd session process on the host: the client's connection dies under it.
	env.rootExec(t, "cp2", "pkill -f '[s]shd: berth' || true")
	var err error
	for range 50 {
		if _, err = e.Exec(ctx, "true"); err == nil && e.Stats().Connects == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || e.Stats().Connects != 2 {
		t.Fatalf("after the connection died: err=%v connects=%d, want a second connection", err, e.Stats().Connects)
	}
}

func TestLabKeepaliveDetectsDeadConnection(t *testing.T) {
	env := requireLab(t)
	tgt := action.Target(env.inv, env.inv.Host("cp2"))
	tgt.Keepalive = time.Second
	e, err := remote.New(remote.Config{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Exec(ctx, "true"); err != nil {
		t.Fatal(err)
	}
	// Freeze the host's side of the connection: packets are accepted but nothing answers, like a dead peer
	// behind a firewall that drops without resetting.
	env.rootExec(t, "cp2", "pkill -STOP -f '[s]shd: berth@notty'")
	t.Cleanup(func() { env.lab.Exec(context.Background(), "cp2", "pkill", "-CONT", "-f", "sshd: berth") })
	start := time.Now()
	_, err = e.Exec(ctx, "echo never answered") // no deadline: only the keepalive can end this
	if err == nil {
		t.Fatal("a command on a frozen connection succeeded")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %s to notice the dead connection", d)
	}
	t.Logf("dead connection noticed after %s: %v", time.Since(start).Round(100*time.Millisecond), err)
	env.rootExec(t, "cp2", "pkill -KILL -f '[s]shd: berth@notty' || true")
	if out, err := e.Exec(ctx, "echo back"); err != nil || out != "back" {
		t.Fatalf("no new connection after the dead one: %q %v", out, err)
	}
}

func TestLabPasswordFromSecretRef(t *testing.T) {
	env := requireLab(t)
	// The lab allows keys only; let one throw-away user log in with a password.
	env.rootExec(t, "cp2", `id pwuser >/dev/null 2>&1 || useradd -m -s /bin/bash pwuser
		echo 'pwuser:Corr3ct-Horse' | chpasswd
		printf 'Match User pwuser\n  PasswordAuthentication yes\n' > /etc/ssh/sshd_config.d/90-berth-pwtest.conf
		systemctl reload ssh`)
	t.Cleanup(func() {
		env.lab.Exec(context.Background(), "cp2", "sh", "-c",
			"rm -f /etc/ssh/sshd_config.d/90-berth-pwtest.conf; systemctl reload ssh; userdel -r pwuser")
	})
	t.Setenv("BERTH_TEST_SSH_PASSWORD", "Corr3ct-Horse")
	tgt := action.Target(env.inv, env.inv.Host("cp2"))
	tgt.User, tgt.IdentityFiles, tgt.Sudo = "pwuser", nil, false
	tgt.Password = func() (string, error) { return inventory.SecretRef("env:BERTH_TEST_SSH_PASSWORD").Resolve("") }
	var logs strings.Builder
	e, err := remote.New(remote.Config{Target: tgt,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var out string
	for range 20 { // the reload is asynchronous
		if out, err = e.Exec(context.Background(), "id -un"); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil || out != "pwuser" {
		t.Fatalf("password login: %q %v", out, err)
	}
	t.Logf("logged in with the password after %d connections", e.Stats().Connects)
	if strings.Contains(logs.String(), "Corr3ct-Horse") {
		t.Fatal("the password appears in the debug log")
	}
	t.Setenv("BERTH_TEST_SSH_PASSWORD", "wrong")
	bad, _ := remote.New(remote.Config{Target: tgt})
	defer bad.Close()
	start := time.Now()
	err = bad.Connect(context.Background())
	t.Logf("wrong password refused in %s", time.Since(start))
	if err == nil || !strings.Contains(err.Error(), "log in to cp2") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestLabPutFiles writes a batch of 40 files (from disk and from memory) into a root-owned directory as the sudo
// user: every file lands with its content, mode and owner, the batch costs a fixed number of commands however many
// files it holds, a second run moves 0 bytes and only fixes a changed mode, and a file whose declared sha256 is
// wrong fails the batch naming that file, with no temporary file left on the host.
func TestLabPutFiles(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	const host, dir = "cp2", "/opt/berth-batch"
	env.rootExec(t, host, "rm -rf "+dir)
	t.Cleanup(func() { env.lab.Exec(context.Background(), host, "rm", "-rf", dir) })
	e := env.executor(t, host)
	if _, err := e.Exec(ctx, "true"); err != nil { // connect and create nothing yet
		t.Fatal(err)
	}

	var files []remote.File
	want := map[string]string{} // dst -> "sha256 mode"
	for i := range 40 {
		f := remote.File{Dst: fmt.Sprintf("%s/sub%d/f%02d", dir, i%3, i), Mode: 0o600}
		if i%2 == 0 {
			f.Src = writeRandomFile(t, int64(100_000+i))
		} else {
			f.Data = []byte(strings.Repeat(fmt.Sprint(i), 1000+i))
			f.Mode = 0o644
		}
		files = append(files, f)
	}
	var total int64
	for _, f := range files {
		sum, size := "", int64(len(f.Data))
		if f.Src != "" {
			sum, _ = remote.FileDigest(f.Src)
			st, _ := os.Stat(f.Src)
			size = st.Size()
		} else {
			h := sha256.Sum256(f.Data)
			sum = hex.EncodeToString(h[:])
		}
		total += size
		want[f.Dst] = fmt.Sprintf("%s %o root", sum, f.Mode)
	}
	var lastSent, lastTotal atomic.Int64
	before := e.Stats()
	res, err := e.PutFiles(ctx, files, func(sent, total int64) { lastSent.Store(sent); lastTotal.Store(total) })
	if err != nil {
		t.Fatal(err)
	}
	cmds := e.Stats().Commands - before.Commands
	if cmds > 3 {
		t.Errorf("a batch of %d files ran %d commands, want at most 3 (look, staging directory, put in place)", len(files), cmds)
	}
	if lastSent.Load() != total || lastTotal.Load() != total {
		t.Errorf("progress ended at %d of %d, want %d", lastSent.Load(), lastTotal.Load(), total)
	}
	for i, r := range res {
		if r.Skipped || r.Sent != r.Size || r.Size == 0 {
			t.Errorf("file %d: %+v", i, r)
		}
	}
	checkHost := func() {
		t.Helper()
		out := env.rootExec(t, host, "cd "+dir+" && for f in sub*/f*; do echo "+dir+"/$f $(sha256sum $f | cut -c1-64) $(stat -c '%a %U' $f); done")
		got := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			dst, rest, _ := strings.Cut(line, " ")
			got[dst] = rest
		}
		if !maps.Equal(got, want) {
			t.Fatalf("on the host:\n%s\nwant %v", out, want)
		}
		if left := env.rootExec(t, host, "find "+dir+" -name '.*.tmp'"); left != "" {
			t.Fatalf("temporary files left behind: %s", left)
		}
	}
	checkHost()

	// Again, with one file's mode changed on the host: nothing is sent, the mode is put back.
	env.rootExec(t, host, "chmod 0666 "+dir+"/sub0/f00")
	sent := e.Stats().BytesUploaded
	res, err = e.PutFiles(ctx, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Stats().BytesUploaded != sent {
		t.Errorf("second run moved %d bytes", e.Stats().BytesUploaded-sent)
	}
	for i, r := range res {
		if !r.Skipped {
			t.Errorf("file %d not skipped: %+v", i, r)
		}
	}
	checkHost()

	// A wrong declared digest: the host refuses that file and the batch fails naming it; the good file of the batch
	// is in place (complete and verified), and no temporary file is left behind.
	bad := []remote.File{
		{Data: []byte("good\n"), Dst: dir + "/new/good"},
		{Data: []byte("tampered\n"), Dst: dir + "/new/bad", Digest: strings.Repeat("0", 64)},
		// a file on disk whose manifest digest is another file's
		{Src: files[0].Src, Dst: dir + "/new/bad2", Digest: want[files[2].Dst][:64]},
	}
	_, err = e.PutFiles(ctx, bad, nil)
	if err == nil || !strings.Contains(err.Error(), dir+"/new/bad:") || !strings.Contains(err.Error(), dir+"/new/bad2:") ||
		!strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want the tampered file named with its sha256", err)
	}
	if got := env.rootExec(t, host, "ls -A "+dir+"/new; cat "+dir+"/new/good"); got != "good\ngood" {
		t.Fatalf("after the failed batch the host has:\n%s\nwant only new/good", got)
	}
}

// TestLabSystemdUnits enables, disables and unmasks a unit on a lab host with the commands the installer uses:
// disabling leaves systemd's loaded units alone, enabling reloads only where a unit's file changed on disk, and
// the enablement read from the files agrees with systemd's.
func TestLabSystemdUnits(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	const host, unit = "worker1", "berth-unit-test.service"
	const file = "/usr/lib/systemd/system/" + unit
	cleanup := func() {
		env.lab.Exec(context.Background(), host, "sh", "-c", fmt.Sprintf(
			"systemctl unmask %[1]s; systemctl disable --now %[1]s; rm -f %[2]s; systemctl daemon-reload", unit, file))
	}
	cleanup()
	t.Cleanup(cleanup)
	env.rootExec(t, host, "printf '[Unit]\\nDescription=berth unit test\\n[Service]\\nType=oneshot\\nRemainAfterExit=yes\\n"+
		"ExecStart=/bin/true\\nEnvironment=STEP=1\\n[Install]\\nWantedBy=multi-user.target\\n' > "+file)
	e := env.executor(t, host)
	run := func(cmd string) {
		t.Helper()
		if out, err := e.Exec(ctx, cmd); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	expect := func(what, cmd, want string) {
		t.Helper()
		if got := env.rootExec(t, host, cmd+" || true"); got != want {
			t.Errorf("%s: %s = %q, want %q", what, cmd, got, want)
		}
	}
	show := func(prop string) string { return "systemctl show -p " + prop + " --value " + unit }
	state := func(want string) { // what remote.UnitFileState reads from the files, against what systemd says
		t.Helper()
		expect("systemd's view", "systemctl is-enabled "+unit, want)
		if got, err := e.Exec(ctx, remote.UnitFileState(unit)); err != nil || strings.TrimSpace(got) != want {
			t.Errorf("UnitFileState = %q (%v), want %q", got, err, want)
		}
	}
	if got, err := e.Exec(ctx, remote.UnitFileState("berth-no-such.service")); err != nil || strings.TrimSpace(got) != "not-found" {
		t.Errorf("UnitFileState of a missing unit = %q (%v), want not-found", got, err)
	}
	state("disabled")

	run(remote.EnableUnits(unit) + " && systemctl start " + unit)
	state("enabled")
	expect("a unit never loaded before", "systemctl is-active "+unit, "active")
	expect("a unit never loaded before", show("Environment"), "STEP=1")

	env.rootExec(t, host, "sleep 1 && sed -i s/STEP=1/STEP=2/ "+file) // a newer mtime than systemd loaded
	run(remote.DisableUnits(unit))
	state("disabled")
	expect("disabling does not reload systemd", show("NeedDaemonReload"), "yes")
	expect("disabling does not reload systemd", show("Environment"), "STEP=1")

	run(remote.EnableUnits(unit))
	state("enabled")
	expect("enabling reloads a changed unit", show("NeedDaemonReload"), "no")
	expect("enabling reloads a changed unit", show("Environment"), "STEP=2")

	env.rootExec(t, host, "systemctl mask -q "+unit)
	state("masked")
	if _, err := e.Exec(ctx, remote.EnableUnits(unit)); err == nil {
		t.Error("enabling a masked unit succeeded; it must stay masked until unmasked on purpose")
	}
	run(remote.UnmaskUnits(unit) + " && " + remote.EnableUnits(unit))
	state("enabled")
}
