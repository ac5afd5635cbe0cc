package accounts

import (
	"errors"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/safefile"
)

// MaxFileSize bounds what ReadFileInRoot reads: real passwd and group files
// are kilobytes.
const MaxFileSize = 4 << 20

// ErrTooLarge reports a file above MaxFileSize.
var ErrTooLarge = safefile.ErrTooLarge

// RootError reports that the root directory itself could not be opened: a
// missing rootfs is not an image without accounts.
type RootError struct {
	Root string
	Err  error
}

func (e *RootError) Error() string { return "rootfs " + e.Root + ": " + e.Err.Error() }
func (e *RootError) Unwrap() error { return e.Err }

// useOpenat2 is cleared when the kernel lacks openat2(2) (before 5.6, e.g.
// RHEL 8's 4.18), and by tests to exercise the fallback walk.
var useOpenat2 = true

// ReadFileInRoot reads the file at name, an absolute path as the container
// will see it, with root as the root directory: symlinks and ".." resolve
// inside root as they will for the container (an absolute link target is
// relative to root, ".." stops at root), so nothing outside root is read.
// Only regular files are read (a FIFO would block the hook, a device could be
// anything), and at most MaxFileSize bytes of them. A root that cannot be
// opened is a *RootError.
func ReadFileInRoot(root, name string) ([]byte, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &RootError{Root: root, Err: err}
	}
	defer unix.Close(rootFd)

	fd, err := openInRoot(rootFd, name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	return safefile.ReadPathFD(fd, name, safefile.Options{Limit: MaxFileSize})
}

// openInRoot opens name with O_PATH relative to rootFd with in-root
// resolution; safefile checks the inode before it opens it for reading.
func openInRoot(rootFd int, name string) (int, error) {
	const flags = unix.O_PATH | unix.O_CLOEXEC
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
func walkInRoot(rootFd int, name string, _ int) (int, error) {
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
			// fd is O_PATH|O_NOFOLLOW of a non-link: what flags asks for.
			return fd, nil
		}
	}
	// name is a directory: hand it over like openat2 would, the caller
	// refuses it.
	return unix.Dup(stack[len(stack)-1])
}

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
