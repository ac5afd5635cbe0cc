package accounts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxFileSize bounds what ReadFileInRoot reads: real passwd and group files
// are kilobytes.
const MaxFileSize = 4 << 20

// ErrTooLarge reports a file above MaxFileSize.
var ErrTooLarge = errors.New("file too large")

// useOpenat2 is cleared when the kernel lacks openat2(2) (before 5.6, e.g.
// RHEL 8's 4.18), and by tests to exercise the fallback walk.
var useOpenat2 = true

// ReadFileInRoot reads the file at name, an absolute path as the container
// will see it, with root as the root directory: symlinks and ".." resolve
// inside root as they will for the container (an absolute link target is
// relative to root, ".." stops at root), so nothing outside root is read.
// Only regular files are read (a FIFO would block the hook, a device could be
// anything), and at most MaxFileSize bytes of them.
func ReadFileInRoot(root, name string) ([]byte, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootFd)

	fd, err := openInRoot(rootFd, name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: name, Err: fmt.Errorf("not a regular file (%s)", st.Mode().Type())}
	}
	if st.Size() > MaxFileSize {
		return nil, &os.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, st.Size(), MaxFileSize)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize { // it grew while we read
		return nil, &os.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: limit %d", ErrTooLarge, MaxFileSize)}
	}
	return data, nil
}

// openInRoot opens name read-only relative to rootFd with in-root
// resolution. O_NONBLOCK keeps the open of a FIFO from blocking; the caller
// refuses non-regular files afterwards.
func openInRoot(rootFd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	if useOpenat2 {
		for {
			fd, err := unix.Openat2(rootFd, name, &unix.OpenHow{
				Flags:   flags,
				Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
			})
			switch {
			case err == nil:
				return fd, nil
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
				continue // a concurrent rename anywhere on the system; retry
			case errors.Is(err, unix.ENOSYS):
				useOpenat2 = false
			default:
				return -1, err
			}
			break
		}
	}
	return walkInRoot(rootFd, name, flags)
}

// maxSymlinks matches the kernel's MAXSYMLINKS.
const maxSymlinks = 40

// walkInRoot resolves name one component at a time with O_PATH|O_NOFOLLOW
// opens, reading each symlink and splicing its target into the remaining
// path (restarting from root for an absolute target) and keeping ".." from
// rising above root: the user-space equivalent of RESOLVE_IN_ROOT for
// kernels without openat2. Each step is an openat relative to the directory
// reached so far, so a link can never be followed by the kernel itself.
func walkInRoot(rootFd int, name string, flags int) (int, error) {
	// stack holds the fds of the directories from root down to the current
	// one; stack[0] is rootFd and is not ours to close.
	stack := []int{rootFd}
	defer func() {
		for _, fd := range stack[1:] {
			unix.Close(fd)
		}
	}()
	remaining := strings.Split(path.Clean("/"+name), "/")[1:]
	links := 0
	for len(remaining) > 0 {
		comp := remaining[0]
		remaining = remaining[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		fd, err := unix.Openat(cur, comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			if links > maxSymlinks {
				unix.Close(fd)
				return -1, unix.ELOOP
			}
			target, err := readlinkFd(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if strings.HasPrefix(target, "/") {
				for _, d := range stack[1:] {
					unix.Close(d)
				}
				stack = stack[:1]
			}
			remaining = append(strings.Split(target, "/"), remaining...)
		case unix.S_IFDIR:
			stack = append(stack, fd)
		default:
			if len(remaining) > 0 {
				unix.Close(fd)
				return -1, unix.ENOTDIR
			}
			rfd, err := reopen(fd, flags)
			unix.Close(fd)
			return rfd, err
		}
	}
	// name is a directory: open it like openat2 would, the caller refuses it.
	return reopen(stack[len(stack)-1], flags)
}

// reopen opens an O_PATH fd for reading through /proc/self/fd, which reopens
// this very inode without another path lookup.
func reopen(fd, flags int) (int, error) {
	return unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), flags, 0)
}

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
