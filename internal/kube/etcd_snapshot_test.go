package kube

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestEtcdSnapshot(t *testing.T) {
	ec := startEtcd(t, 1)
	e := ec.client(t, ec.endpoints...)
	ctx := context.Background()
	if _, err := e.cli.Put(ctx, "/registry/berth/test", "snapshot-me"); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "etcd.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	size, sum, err := e.Snapshot(ctx, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.Sum256(data)
	if int64(len(data)) != size || hex.EncodeToString(got[:]) != sum {
		t.Fatalf("wrote %d bytes with sha256 %x; Snapshot said %d bytes, %s", len(data), got, size, sum)
	}
	// etcd's snapshot: a bolt database padded to 512 bytes, then the sha256 of it.
	if size%512 != sha256.Size {
		t.Errorf("size %d does not end in etcd's checksum", size)
	}

	// The file is etcd's database: bolt opens it and its key bucket holds the key written above.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the snapshot is not a bolt database: %v", err)
	}
	defer db.Close()
	found := false
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		if b == nil {
			t.Fatal("the snapshot has no key bucket")
		}
		return b.ForEach(func(_, v []byte) error {
			found = found || (bytes.Contains(v, []byte("/registry/berth/test")) && bytes.Contains(v, []byte("snapshot-me")))
			return nil
		})
	})
	if err != nil || !found {
		t.Errorf("the key written before the snapshot is not in it (%v)", err)
	}
}

func TestTrailerCheck(t *testing.T) {
	db := bytes.Repeat([]byte("etcd database page "), 100)
	sum := sha256.Sum256(db)
	good := append(append([]byte(nil), db...), sum[:]...)
	for _, chunk := range []int{1, 7, 31, 32, 33, 512, len(good)} {
		c := newTrailerCheck()
		for rest := good; len(rest) > 0; {
			n := min(chunk, len(rest))
			c.Write(rest[:n])
			rest = rest[n:]
		}
		if err := c.verify(); err != nil {
			t.Errorf("chunks of %d: %v", chunk, err)
		}
	}
	bad := append([]byte(nil), good...)
	bad[10] ^= 1
	c := newTrailerCheck()
	c.Write(bad)
	if c.verify() == nil {
		t.Error("a corrupt snapshot passes")
	}
	short := newTrailerCheck()
	short.Write(good[len(good)-40 : len(good)-20])
	if short.verify() == nil {
		t.Error("a truncated snapshot passes")
	}
}
