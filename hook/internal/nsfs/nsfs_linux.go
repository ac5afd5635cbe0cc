// Package nsfs identifies Linux namespaces from their nsfs files
// (/proc/PID/ns/*, or a bind-mounted pin such as CRI-O's under
// /var/run/{netns,ipcns,utsns,userns}).
//
// A namespace is its nsfs inode: two files name the same namespace exactly
// when stat gives the same device and inode, and no one can make another
// namespace look like it (the kernel owns those numbers). Which user
// namespace owns a namespace comes from ioctl(NS_GET_USERNS), which CRI-O
// cannot be made to misreport either: a container's network namespace
// created inside its pod's user namespace is owned by that user namespace,
// whatever config.json claims.
package nsfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ID is a namespace: the device and inode of its nsfs file.
type ID struct {
	Dev, Ino uint64
}

func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// IsZero reports whether id is unset.
func (id ID) IsZero() bool { return id == ID{} }

// Stat returns the namespace of the nsfs file at path (following the
// magic link of /proc/PID/ns/*). It does not check that path is an nsfs
// file: a plain file's inode stands for a namespace in tests.
func Stat(path string) (ID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ID{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return ID{Dev: st.Dev, Ino: st.Ino}, nil
}

// ErrNotNamespace reports a path that is not an nsfs file.
var ErrNotNamespace = errors.New("not a namespace file")

// nsGetUserns is NS_GET_USERNS, _IO(0xb7, 0x1) in linux/nsfs.h.
const nsGetUserns = 0xb701

// Owner returns the user namespace that owns the namespace at path. The
// path is opened with O_PATH first and must be on nsfs before it is opened
// for the ioctl, so that a path that names anything else (a FIFO, a device)
// is refused unopened.
func Owner(path string) (ID, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return ID{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &sfs); err != nil {
		return ID{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return ID{}, fmt.Errorf("%s: %w", path, ErrNotNamespace)
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ID{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	ufd, err := unix.IoctlRetInt(fd, nsGetUserns)
	if err != nil {
		return ID{}, &os.PathError{Op: "ioctl NS_GET_USERNS", Path: path, Err: err}
	}
	defer unix.Close(ufd)
	var st unix.Stat_t
	if err := unix.Fstat(ufd, &st); err != nil {
		return ID{}, &os.PathError{Op: "stat", Path: path + " (its user namespace)", Err: err}
	}
	return ID{Dev: st.Dev, Ino: st.Ino}, nil
}
