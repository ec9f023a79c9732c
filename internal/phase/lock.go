package phase

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lock timing defaults.
const (
	DefaultHeartbeat  = 15 * time.Second
	DefaultStaleAfter = 2 * time.Minute
)

// LockInfo says who holds a lock. It is the content of the lock file.
type LockInfo struct {
	PID       int       `json:"pid"`
	Machine   string    `json:"machine"` // hostname of the machine berth runs on
	User      string    `json:"user"`
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}

func (i LockInfo) String() string {
	return fmt.Sprintf("%q (pid %d on %s, user %s, since %s, last heartbeat %s)", i.Command, i.PID, i.Machine, i.User,
		i.Started.Format(time.RFC3339), i.Heartbeat.Format(time.RFC3339))
}

// LockedError means another live run holds the cluster's lock.
type LockedError struct {
	Path   string
	Holder LockInfo
	Reason string // why the holder counts as alive
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("the cluster is locked by %s: %s. Wait for that run to finish; if it is certainly gone, delete %s",
		e.Holder, e.Reason, e.Path)
}

// LockOptions tune AcquireLock.
type LockOptions struct {
	Command    string        // what this run is, for whoever finds the lock ("berth install")
	Heartbeat  time.Duration // how often the lock file is refreshed; 0 means DefaultHeartbeat
	StaleAfter time.Duration // a holder on another machine silent this long is stale; 0 means DefaultStaleAfter
	Now        func() time.Time
}

// Lock is a held cluster lock. On this machine it is an flock(2), released by the kernel when the process dies; the
// file also carries a heartbeat so runs on other machines sharing the state directory can tell a live holder from
// a dead one.
type Lock struct {
	path string
	f    *os.File
	info LockInfo
	now  func() time.Time

	// TookOver explains the stale lock this Lock replaced, or is empty. Worth showing to the user.
	TookOver string

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
}

// AcquireLock takes the lock file at path, or fails with *LockedError naming the live holder. A holder that is gone
// (its process died on this machine, or its heartbeat from another machine is older than StaleAfter) is replaced,
// and Lock.TookOver says so.
func AcquireLock(path string, opts LockOptions) (*Lock, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	machine, _ := os.Hostname()
	for attempt := 0; attempt < 5; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock: %w", err)
		}
		prev, _ := readLockInfo(f)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &LockedError{Path: path, Holder: prev, Reason: "its process holds the lock on this machine"}
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder may have removed the file between our open and our flock: then we locked a deleted inode.
		if !sameFile(f, path) {
			f.Close()
			continue
		}
		prev, _ = readLockInfo(f)
		now := opts.Now()
		var took string
		if prev.PID != 0 {
			switch {
			case prev.Machine == machine:
				took = fmt.Sprintf("took over the stale lock of %s: that process is gone (its lock was released)", prev)
				if prev.PID != os.Getpid() && processAlive(prev.PID) {
					took = fmt.Sprintf("took over the stale lock of %s: pid %d is now another program (its lock was released)", prev, prev.PID)
				}
			case now.Sub(prev.Heartbeat) < opts.StaleAfter:
				f.Close()
				return nil, &LockedError{Path: path, Holder: prev,
					Reason: fmt.Sprintf("it runs on another machine and its heartbeat is %s old (stale after %s)",
						now.Sub(prev.Heartbeat).Round(time.Second), opts.StaleAfter)}
			default:
				took = fmt.Sprintf("took over the stale lock of %s: no heartbeat for %s", prev,
					now.Sub(prev.Heartbeat).Round(time.Second))
			}
		}
		l := &Lock{path: path, f: f, now: opts.Now, TookOver: took, stop: make(chan struct{}),
			info: LockInfo{PID: os.Getpid(), Machine: machine, User: currentUser(), Command: opts.Command,
				Started: now, Heartbeat: now}}
		if err := l.write(); err != nil {
			f.Close()
			return nil, err
		}
		l.wg.Add(1)
		go l.beat(opts.Heartbeat)
		return l, nil
	}
	return nil, fmt.Errorf("lock %s: it keeps changing under us; try again", path)
}

// Info returns what the lock file says about this holder.
func (l *Lock) Info() LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// Release gives the lock up and removes the lock file.
func (l *Lock) Release() error {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.path) // before unlocking, so no one locks a file that is about to vanish
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

func (l *Lock) beat(every time.Duration) {
	defer l.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if l.f != nil {
				l.info.Heartbeat = l.now()
				_ = l.writeLocked()
			}
			l.mu.Unlock()
		}
	}
}

func (l *Lock) write() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeLocked()
}

func (l *Lock) writeLocked() error {
	b, _ := json.Marshal(l.info)
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	if _, err := l.f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	return l.f.Sync()
}

func readLockInfo(f *os.File) (LockInfo, error) {
	var info LockInfo
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return info, err
	}
	err = json.Unmarshal(b, &info)
	return info, err
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint(os.Getuid())
}
