package kube

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Snapshot streams a snapshot of etcd's database to w from the first endpoint whose member is healthy, and
// returns its size and sha256 (hex). etcd ends the stream with the sha256 of the database before it; Snapshot
// checks it, so that a snapshot it returns without error is complete. A snapshot is one member's state at one
// point, which is why it is taken from one endpoint. ctx bounds the whole transfer (no per-call timeout applies).
func (e *Etcd) Snapshot(ctx context.Context, w io.Writer) (size int64, sum string, err error) {
	ep, err := e.snapshotEndpoint(ctx)
	if err != nil {
		return 0, "", err
	}
	cli, err := e.client(ep)
	if err != nil {
		return 0, "", err
	}
	defer cli.Close()
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("etcd snapshot from %s: %w", ep, err)
	}
	defer rc.Close()
	all, check := sha256.New(), newTrailerCheck()
	size, err = io.Copy(io.MultiWriter(w, all, check), rc)
	if err != nil {
		return size, "", fmt.Errorf("etcd snapshot from %s: after %d bytes: %w", ep, size, err)
	}
	if err := check.verify(); err != nil {
		return size, "", fmt.Errorf("etcd snapshot from %s: %w", ep, err)
	}
	sum = hex.EncodeToString(all.Sum(nil))
	e.log.Info("etcd snapshot taken", "endpoint", ep, "bytes", size, "sha256", sum)
	return size, sum, nil
}

// snapshotEndpoint returns the first endpoint, in order, whose member reports itself healthy.
func (e *Etcd) snapshotEndpoint(ctx context.Context) (string, error) {
	var errs []error
	for _, ep := range e.o.Endpoints {
		h := e.endpointHealth(ctx, ep)
		if h.Healthy {
			return ep, nil
		}
		errs = append(errs, fmt.Errorf("%s: %s", ep, h.Err))
	}
	return "", fmt.Errorf("etcd snapshot: no healthy member to take it from: %w", errors.Join(errs...))
}

// trailerCheck hashes everything written to it but the last sha256.Size bytes, which it keeps: etcd appends the
// sha256 of the database to a snapshot.
type trailerCheck struct {
	h    hash.Hash
	tail []byte
}

func newTrailerCheck() *trailerCheck { return &trailerCheck{h: sha256.New()} }

// Write hashes p but for the last sha256.Size bytes seen so far.
func (t *trailerCheck) Write(p []byte) (int, error) {
	n := len(p)
	if len(t.tail)+len(p) <= sha256.Size {
		t.tail = append(t.tail, p...)
		return n, nil
	}
	// Hash what can no longer be part of the trailer: the oldest bytes of tail, then of p.
	spill := len(t.tail) + len(p) - sha256.Size
	fromTail := min(spill, len(t.tail))
	t.h.Write(t.tail[:fromTail])
	t.h.Write(p[:spill-fromTail])
	t.tail = append(append(make([]byte, 0, sha256.Size), t.tail[fromTail:]...), p[spill-fromTail:]...)
	return n, nil
}

// verify reports whether the trailer is the sha256 of what came before it.
func (t *trailerCheck) verify() error {
	if len(t.tail) < sha256.Size {
		return fmt.Errorf("the snapshot is too short (%d bytes) to carry its checksum", len(t.tail))
	}
	if !bytes.Equal(t.h.Sum(nil), t.tail) {
		return errors.New("the snapshot does not match its checksum: it is incomplete or corrupt")
	}
	return nil
}
