package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
	"github.com/berthsh/berth/lab"
)

// TestLabSudoWithPassword logs in as a user whose sudo asks for a password (no NOPASSWD), with the password given
// by reference as the inventory gives it. Commands run as root; a batch of files (streamed on the command's input
// after the password) lands with every sha256 checked, and input read by a command arrives unchanged; a
// cancelled command is killed through sudo; the password is on no command line on the host (sampled while a
// command runs), in no debug log and in no error. A wrong password fails with ErrSudoRefused after one try, and
// sudo records exactly one failed attempt however many commands follow.
func TestLabSudoWithPassword(t *testing.T) {
	env := requireLab(t)
	const host, user, password = "cp2", "sudopw", `Tr0ub4dor&3 "x"`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := env.lab.AddUser(ctx, host, lab.Login{Name: user, SudoPassword: password}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.lab.RemoveUser(context.Background(), host, user) })
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/sudo", []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The inventory's way: ssh.user and ssh.sudoPasswordFrom, resolved by action.Target.
	inv := *env.inv
	inv.SSH.User, inv.SSH.SudoPasswordFrom = user, inventory.SecretRef("file:"+dir+"/sudo")
	tgt := action.Target(&inv, inv.Host(host))
	if tgt.User != user || !tgt.Sudo || tgt.SudoPassword == nil {
		t.Fatalf("target %+v", tgt)
	}
	var logs bytes.Buffer
	e, err := remote.New(remote.Config{Target: tgt, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if out, err := e.Exec(ctx, "id -u"); err != nil || out != "0" {
		t.Fatalf("id -u through sudo with a password: %q %v", out, err)
	}
	if res, err := e.Run(ctx, remote.Cmd{Command: "id -un", NoSudo: true}); err != nil || strings.TrimSpace(res.Stdout) != user {
		t.Fatalf("without sudo: %q %v", res.Stdout, err)
	}

	// Input the command reads arrives whole, after the password line sudo took.
	payload := bytes.Repeat([]byte("line of data\n"), 200000)
	sum := sha256.Sum256(payload)
	res, err := e.Run(ctx, remote.Cmd{Command: "sha256sum", Stdin: bytes.NewReader(payload)})
	if err != nil || !strings.HasPrefix(res.Stdout, hex.EncodeToString(sum[:])) {
		t.Fatalf("stdin through sudo with a password: %q %v", res.Stdout, err)
	}
	// The one upload path streams a tar on the same input: every file is checked by sha256 on the host.
	big := writeRandomFile(t, 8<<20)
	files := []remote.File{{Src: big, Dst: "/root/berth-sudopw/big.bin", Mode: 0o600},
		{Data: []byte("small\n"), Dst: "/root/berth-sudopw/small.txt"}}
	if _, err := e.PutFiles(ctx, files, nil); err != nil {
		t.Fatalf("PutFiles through sudo with a password: %v", err)
	}
	t.Cleanup(func() { env.lab.Exec(context.Background(), host, "rm", "-rf", "/root/berth-sudopw") })
	want, _ := remote.FileDigest(big)
	if got := env.rootExec(t, host, "sha256sum /root/berth-sudopw/big.bin | cut -d' ' -f1; stat -c %U /root/berth-sudopw/small.txt"); got != want+"\nroot" {
		t.Fatalf("uploaded file on the host: %q, want %s owned by root", got, want)
	}

	// While a command runs, no process on the host shows the password.
	done := make(chan error, 1)
	go func() { _, err := e.Exec(ctx, "sleep 2"); done <- err }()
	time.Sleep(time.Second)
	if ps := env.rootExec(t, host, "ps -eo args"); strings.Contains(ps, "Tr0ub4dor") || !strings.Contains(ps, "sleep 2") {
		t.Fatalf("process list while a command runs (password shown, or the command not running):\n%s", ps)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A cancelled command is killed through sudo too.
	cctx, ccancel := context.WithCancel(ctx)
	go func() { time.Sleep(time.Second); ccancel() }()
	if _, err := e.Exec(cctx, "sleep 301"); err == nil {
		t.Fatal("cancelled command succeeded")
	}
	time.Sleep(500 * time.Millisecond)
	if out, _ := env.lab.Exec(ctx, host, "sh", "-c", "pgrep -f '^sleep 301$' || true"); strings.TrimSpace(out) != "" {
		t.Errorf("cancelled command still runs: %s", out)
	}
	if strings.Contains(logs.String(), "Tr0ub4dor") {
		t.Fatal("the sudo password is in the debug log")
	}

	// A wrong password: refused once, never tried again.
	since := env.rootExec(t, host, "date '+%Y-%m-%d %H:%M:%S'")
	if err := os.WriteFile(dir+"/sudo", []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, err := remote.New(remote.Config{Target: action.Target(&inv, inv.Host(host))})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	for range 3 {
		_, err = bad.Exec(ctx, "true")
		if !errors.Is(err, remote.ErrSudoRefused) || strings.Contains(err.Error(), "not-the-password") ||
			!strings.Contains(err.Error(), "ssh.sudoPasswordFrom") {
			t.Fatalf("wrong password: %v", err)
		}
	}
	failures := env.rootExec(t, host, "journalctl --no-pager -q --since '"+since+"' _COMM=sudo | grep -c 'incorrect password attempt' || true")
	if failures != "1" {
		t.Errorf("sudo logged %s failed attempts for three commands, want 1:\n%s", failures,
			env.rootExec(t, host, "journalctl --no-pager -q --since '"+since+"' _COMM=sudo"))
	}
}

// TestLabPerHostBastion reaches worker1 through a jump host of its own (hosts[].ssh.bastion: cp2) while cp1 is
// dialled directly: per host, the bastion of the inventory's host wins over none.
func TestLabPerHostBastion(t *testing.T) {
	env := requireLab(t)
	ctx := context.Background()
	cp2 := env.inv.Host("cp2")
	inv := *env.inv
	inv.Hosts = append([]inventory.Host(nil), env.inv.Hosts...)
	w := inv.Host("worker1")
	w.SSH = &inventory.HostSSH{Bastion: &inventory.Bastion{Address: cp2.Address, Port: 22}}
	pool := action.NewPool(&inv, nil)
	defer pool.Close()
	from := func(host string) string {
		h, err := pool.Get(host)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Run(ctx, remote.Cmd{Command: "echo $SSH_CONNECTION", NoSudo: true})
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		return strings.Fields(res.Stdout)[0]
	}
	if got := from("worker1"); got != cp2.Address {
		t.Errorf("worker1 saw the connection from %s, want its bastion cp2 (%s)", got, cp2.Address)
	}
	if got := from("cp1"); got == cp2.Address {
		t.Errorf("cp1 was reached through worker1's bastion")
	}
}
