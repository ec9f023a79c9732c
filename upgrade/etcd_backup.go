package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
)

// SnapshotDir is where a copy of each snapshot berth takes is kept on the first control plane.
const SnapshotDir = "/var/lib/berth/etcd"

// Snapshot is an etcd snapshot berth took: the file, its size and sha256 (also in File+".sha256").
type Snapshot struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Host   string `json:"host,omitempty"` // the control plane that keeps a copy, at SnapshotDir/<base name>
}

// TakeSnapshot saves a snapshot of the cluster's etcd with the etcd v3 client into file (0600, written under a
// temporary name and renamed when whole), writes its sha256 beside it (file.sha256) and, when copyTo is set, puts a
// copy on that control plane. The etcd client checks the checksum etcd appends to the snapshot.
func TakeSnapshot(ctx context.Context, c *installer.Cluster, file, copyTo string) (*Snapshot, error) {
	e, err := c.Etcd(ctx)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	size, sum, err := e.Snapshot(ctx, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("etcd snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file+".sha256", []byte(sum+"  "+filepath.Base(file)+"\n"), 0o600); err != nil {
		return nil, err
	}
	s := &Snapshot{File: file, Size: size, SHA256: sum}
	if copyTo != "" {
		h, err := c.Host(copyTo)
		if err != nil {
			return s, err
		}
		if _, err := h.PutFiles(ctx, []remote.File{{Src: file, Dst: path.Join(SnapshotDir, filepath.Base(file)), Mode: 0o600, Digest: sum}}, nil); err != nil {
			return s, fmt.Errorf("copy the snapshot to %s: %w", copyTo, err)
		}
		s.Host = copyTo
	}
	return s, nil
}

// SnapshotName is the file name of a snapshot of a cluster taken at t.
func SnapshotName(cluster string, t time.Time) string {
	return fmt.Sprintf("etcd-%s-%s.db", cluster, t.UTC().Format("20060102T150405Z"))
}

// VerifySnapshot checks a snapshot file against its sha256: want when given, else the file's .sha256 beside it.
// It returns the sha256.
func VerifySnapshot(file, want string) (string, error) {
	if want == "" {
		b, err := os.ReadFile(file + ".sha256")
		if err != nil {
			return "", fmt.Errorf("snapshot %s has no %s.sha256 beside it: give its sha256 with --sha256 (berth etcd backup writes both): %w", file, filepath.Base(file), err)
		}
		want, _, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
	}
	want = strings.ToLower(strings.TrimSpace(want))
	if len(want) != 64 || strings.Trim(want, "0123456789abcdef") != "" {
		return "", fmt.Errorf("snapshot %s: %q is not a sha256 (64 hex digits)", file, want)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("snapshot %s is not a regular file", file)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read snapshot %s: %w", file, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		return "", fmt.Errorf("snapshot %s has sha256 %s, not the expected %s: it is corrupted or not the snapshot you meant; nothing was restored", file, got, want)
	}
	return got, nil
}

// snapshot is the upgrade's first change: an etcd snapshot, kept off the cluster in its state directory and on the
// first control plane, before any host is touched.
type snapshot struct {
	phase.Base
	r *run
}

func (p *snapshot) Title() string   { return "Take an etcd snapshot" }
func (p *snapshot) Name() string    { return "etcd-snapshot" }
func (p *snapshot) ShouldRun() bool { return p.r.plan != nil && !p.r.plan.Nothing }

func (p *snapshot) Run(ctx context.Context) error {
	c := p.r.c
	file := filepath.Join(c.StateDir, "snapshots", SnapshotName(c.Inv.Metadata.Name, time.Now()))
	first := c.First().Name
	return p.Wet("", fmt.Sprintf("save an etcd snapshot to %s (0600, with its sha256) and a copy to %s:%s", file, first, SnapshotDir), func() error {
		s, err := TakeSnapshot(ctx, c, file, first)
		if err != nil {
			return err
		}
		p.r.snapshot = s.File
		p.Logf("", "etcd snapshot %s: %d bytes, sha256 %s", s.File, s.Size, s.SHA256)
		return nil
	})
}
