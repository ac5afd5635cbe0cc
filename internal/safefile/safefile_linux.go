// Package safefile is the one way crio-userns-hook reads a file. The hook
// runs for every container under a deadline and must not be stalled or
// misled by what it reads, so every read here:
//
//   - opens the path with O_PATH first and looks at the inode before opening
//     it for reading: a FIFO, a socket or a device is refused without ever
//     being opened (opening a FIFO blocks, opening a device can act);
//   - reopens the very inode it checked, through /proc/self/fd, with
//     O_NONBLOCK and O_NOCTTY;
//   - reads at most Limit bytes and refuses a larger file;
//   - optionally refuses a file that someone other than root could have
//     written (Trusted) or a symbolic link as the last component (NoFollow).
//
// Callers that resolve a path their own way (the rootfs reader, which stays
// inside the container's root) hand the O_PATH descriptor to ReadPathFD.
package safefile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Options says how a file is read.
type Options struct {
	// Limit is the largest size accepted, in bytes (required).
	Limit int64
	// NoFollow refuses a symbolic link as the last path component.
	NoFollow bool
	// Trusted refuses a file not owned by root (or the caller's own user),
	// or writable by its group or by others: the hook's policy and the subid
	// files decide what it lets through, so whoever can write them can
	// switch the hook off.
	Trusted bool
	// Prefix returns the first Limit bytes of a larger file instead of
	// refusing it, for callers that need only its beginning.
	Prefix bool
}

// ErrNotRegular reports a FIFO, socket, device or directory where a regular
// file was expected.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge reports a file above the limit.
var ErrTooLarge = errors.New("file too large")

type tooLargeError struct {
	path  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes", e.path, e.limit)
}
func (e *tooLargeError) Is(err error) bool { return err == ErrTooLarge }

type notRegularError struct {
	path, kind string
}

func (e *notRegularError) Error() string {
	return fmt.Sprintf("%s: not a regular file (%s)", e.path, e.kind)
}
func (e *notRegularError) Is(err error) bool { return err == ErrNotRegular }

// UntrustedError reports a file the hook does not trust: not owned by root,
// or writable by group or others.
type UntrustedError struct {
	Path   string
	Reason string // "owned by UID 65534, not root", "writable by group or others (mode 0666)"
}

func (e *UntrustedError) Error() string { return e.Path + ": not trusted: " + e.Reason }

// Fix says how to make the file trusted.
func (e *UntrustedError) Fix() string {
	return fmt.Sprintf("make %s owned by root and writable only by root (chown root:root %s; chmod go-w %s)", e.Path, e.Path, e.Path)
}

// Read reads the file at path as o says.
func Read(path string, o Options) ([]byte, error) {
	var data []byte
	err := read(path, o, func(b []byte, pooled bool) error {
		data = own(b, pooled)
		return nil
	})
	return data, err
}

// ReadWith reads the file at path as Read does and hands what it holds to
// parse, which must not keep it: a /proc file is parsed in the pooled
// buffer it was read into, not copied out first. parse's error is
// ReadWith's.
func ReadWith(path string, o Options, parse func([]byte) error) error {
	return read(path, o, func(b []byte, _ bool) error { return parse(b) })
}

func read(path string, o Options, use func(b []byte, pooled bool) error) error {
	flags := unix.O_PATH | unix.O_CLOEXEC
	if o.NoFollow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := openRetry(path, flags)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return readPathFD(fd, path, o, use)
}

// ReadPathFD reads the file behind fd, an O_PATH descriptor (or any
// descriptor) of the file to read, which the caller keeps and closes. name
// is the path for messages.
func ReadPathFD(fd int, name string, o Options) ([]byte, error) {
	var data []byte
	err := readPathFD(fd, name, o, func(b []byte, pooled bool) error {
		data = own(b, pooled)
		return nil
	})
	return data, err
}

// readPathFD reads the file behind fd and hands it to use, saying whether
// it is in the pooled scratch buffer (taken back when use returns).
func readPathFD(fd int, name string, o Options, use func(b []byte, pooled bool) error) error {
	if o.Limit <= 0 {
		return fmt.Errorf("%s: reading without a size limit", name)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: name, Err: err}
	}
	check := o
	if o.Prefix {
		check.Limit = 0 // the size is no reason to refuse
	}
	if err := checkStat(name, &st, check); err != nil {
		return err
	}
	rfd, err := openRetry("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(rfd)
	max := o.Limit + 1 // one byte more than allowed tells a file too large
	if o.Prefix {
		max = o.Limit
	}
	data, pooled, err := readUpTo(rfd, name, st.Size, max)
	if pooled != nil {
		defer scratch.Put(pooled)
	}
	if err != nil {
		return err
	}
	if int64(len(data)) > o.Limit {
		return &tooLargeError{name, o.Limit}
	}
	return use(data, pooled != nil && cap(data) > 0 && &data[:1][0] == &(*pooled)[:1][0])
}

// own returns b, or, when it is in the pooled scratch buffer, a copy.
func own(b []byte, pooled bool) []byte {
	if pooled {
		return append(make([]byte, 0, len(b)), b...)
	}
	return b
}

// CheckTrusted applies the Trusted test to the file at path without reading
// it, not following a final symbolic link. It is for files the hook writes
// (the audit log), whose existing inode must be trusted before the hook
// appends to it; a missing file passes (the caller creates it).
func CheckTrusted(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return checkStat(path, &st, Options{Trusted: true})
}

// OpenAppend opens path for appending, creating it 0600 when missing,
// without following a final symbolic link and without blocking, and checks
// that the file it opened is a trusted regular file.
func OpenAppend(path string) (*os.File, error) {
	fd, err := openRetry(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, &UntrustedError{Path: path, Reason: "a symbolic link"}
		}
		if errors.Is(err, unix.ENXIO) {
			// O_NONBLOCK|O_WRONLY on a FIFO without a reader.
			return nil, &notRegularError{path, "a FIFO"}
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := checkStat(path, &st, Options{Trusted: true}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func checkStat(name string, st *unix.Stat_t, o Options) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return &UntrustedError{Path: name, Reason: "a symbolic link"}
	default:
		return &notRegularError{name, typeName(st.Mode)}
	}
	if o.Limit > 0 && st.Size > o.Limit {
		return &tooLargeError{name, o.Limit}
	}
	if !o.Trusted {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return &UntrustedError{Path: name, Reason: fmt.Sprintf("owned by UID %d, not root", st.Uid)}
	}
	if st.Mode&0o022 != 0 {
		return &UntrustedError{Path: name, Reason: fmt.Sprintf("writable by group or others (mode %#o)", st.Mode&0o7777)}
	}
	return nil
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFDIR:
		return "a directory"
	}
	return fmt.Sprintf("file type %#o", mode&unix.S_IFMT)
}

// readUpTo reads fd to its end or to max bytes. size is the inode's size,
// a hint only (a file may grow): the buffer starts at that, so that a file
// costs one allocation of its size. A /proc file says 0; it is read into
// the pooled scratch buffer (pooled, for the caller to put back; data is
// in it unless it outgrew it), where the kernel would otherwise fault in a
// fresh buffer of the largest size such a file may have for every read
// (four pages for a page of uid_map or stat).
func readUpTo(fd int, name string, size, max int64) (data []byte, pooled *[]byte, err error) {
	if size > 0 {
		data, err = readInto(fd, name, make([]byte, 0, min(size+1, max)), max)
		return data, nil, err
	}
	pooled = scratch.Get().(*[]byte)
	data, err = readInto(fd, name, (*pooled)[:0], max)
	return data, pooled, err
}

// scratch holds the largest uid_map (340 lines of 33 bytes) and any stat.
var scratch = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readInto appends what fd holds to buf until its end or max bytes,
// doubling the buffer when it is full.
func readInto(fd int, name string, buf []byte, max int64) ([]byte, error) {
	for int64(len(buf)) < max {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*int64(cap(buf))+512, max))
			copy(nb, buf)
			buf = nb
		}
		m, err := unix.Read(fd, buf[len(buf):min(int64(cap(buf)), max)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		case m == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+m]
	}
	return buf, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0o600)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}
