package registry

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// writeFile replaces dir/name with data: a new file ".name-RANDOM", written
// and renamed over the old one, so that a reader without the lock, or a
// hook after a crash, sees the old file or the new one, whole. dir is
// created (0700) when missing. It costs four system calls (open, write,
// close, rename): every pod's first container writes two files, so
// os.CreateTemp's poller set-up, os.Rename's extra lstat and a deferred
// remove after a successful rename would double that.
func (t *Txn) writeFile(dir, name string, data []byte) error {
	tmp, fd, err := createTemp(dir, name)
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdir(dir, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: dir, Err: err}
		}
		tmp, fd, err = createTemp(dir, name)
	}
	if err != nil {
		return err
	}
	err = writeAll(fd, tmp, data)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err == nil {
		if rerr := unix.Rename(tmp, filepath.Join(dir, name)); rerr != nil {
			err = &os.LinkError{Op: "rename", Old: tmp, New: filepath.Join(dir, name), Err: rerr}
		}
	}
	if err != nil {
		unix.Unlink(tmp)
	}
	return err
}

// createTemp creates a new file ".name-RANDOM" in dir, 0600, refusing to
// open anything that exists already (a link planted there included).
func createTemp(dir, name string) (string, int, error) {
	for range 10000 {
		tmp := filepath.Join(dir, "."+name+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		switch {
		case err == nil:
			return tmp, fd, nil
		case errors.Is(err, unix.EEXIST), errors.Is(err, unix.EINTR):
			continue
		default:
			return "", -1, &os.PathError{Op: "open", Path: tmp, Err: err}
		}
	}
	return "", -1, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, "."+name+"-*"), Err: unix.EEXIST}
}

func writeAll(fd int, path string, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	return nil
}
