package localfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits for the kinds of files berth reads. No real file of each kind comes near its limit.
const (
	// SecretLimit bounds secrets, private keys and public keys.
	SecretLimit = 64 << 10
	// KnownHostsLimit bounds a known_hosts file: tens of thousands of entries.
	KnownHostsLimit = 4 << 20
	// InventoryLimit bounds an inventory file: tens of thousands of hosts.
	InventoryLimit = 16 << 20
)

// TooLargeError reports a file larger than its limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s, more than such a file ever holds; name the right file", e.Path, sizeText(e.Limit))
}

// NotRegularError reports a path that names something other than a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file; name a regular file", e.Path, Describe(e.Mode))
}

// Open opens path for reading and returns the file with its information, or an error when it is not a regular
// file. A FIFO is opened without waiting for a writer, and refused.
func Open(path string) (*os.File, fs.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. It changes nothing for
	// regular files.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return f, st, nil
}

// Read returns the content of the regular file at path, refusing one larger than limit bytes. The returned
// information is the opened file's, for callers that check its mode.
func Read(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, nil, &TooLargeError{Path: path, Limit: limit}
	}
	// The file may grow after Stat: never read more than limit+1 bytes, whatever it holds by then.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, st, nil
}

// OthersCanRead reports whether the file's group or others may read it.
func OthersCanRead(st fs.FileInfo) bool { return st.Mode().Perm()&0o044 != 0 }

// Describe names the kind of file a mode stands for: "a directory", "a named pipe (FIFO)", ...
func Describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}

// sizeText formats a byte count with binary units: 64 KiB, 16 MiB.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
