// Package mountinfo reads /proc/self/mountinfo for the tools that must leave no
// mount behind, and unmounts what they added.
package mountinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one line of /proc/self/mountinfo, reduced to what cleanup needs.
type Mount struct {
	ID         int    // unique per mount, so a remount at the same path is a different Mount
	MountPoint string // unescaped
	FSType     string
}

// ParseMountInfo parses proc(5) mountinfo text, in the kernel's order
// (parents before the mounts on top of them).
func ParseMountInfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %q: no fstype after the - separator", sc.Text())
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %q: mount ID: %w", sc.Text(), err)
		}
		out = append(out, Mount{ID: id, MountPoint: unescapeMountPath(f[4]), FSType: f[sep+1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMountPath undoes the kernel's octal escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountsUnder returns the mounts of this process's mount namespace at or
// below dir, in mountinfo order.
func MountsUnder(dir string) ([]Mount, error) {
	dir, err := resolveDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("listing mounts: %w", err)
	}
	defer f.Close()
	all, err := ParseMountInfo(f)
	if err != nil {
		return nil, err
	}
	var out []Mount
	for _, m := range all {
		if isUnder(m.MountPoint, dir) {
			out = append(out, m)
		}
	}
	return out, nil
}

// MountsAt returns the mounts whose mount point is exactly path (several
// when stacked), without those below it.
func MountsAt(path string) ([]Mount, error) {
	under, err := MountsUnder(path)
	if err != nil {
		return nil, err
	}
	path, err = resolveDir(path)
	if err != nil {
		return nil, err
	}
	var out []Mount
	for _, m := range under {
		if m.MountPoint == path {
			out = append(out, m)
		}
	}
	return out, nil
}

// UnmountUnder unmounts everything at or below dir, topmost and deepest
// first, and returns the mount points it unmounted. It is the teardown for a
// store that a node or a test is done with; to undo only what one command
// mounted, see UnmountNew.
func UnmountUnder(dir string) ([]string, error) {
	mounts, err := MountsUnder(dir)
	if err != nil {
		return nil, err
	}
	return unmountAll(mounts)
}

// UnmountNew unmounts the mounts in after that are not in before.
func UnmountNew(before, after []Mount) ([]string, error) {
	old := make(map[int]bool, len(before))
	for _, m := range before {
		old[m.ID] = true
	}
	var fresh []Mount
	for _, m := range after {
		if !old[m.ID] {
			fresh = append(fresh, m)
		}
	}
	return unmountAll(fresh)
}

// unmountAll unmounts mounts in reverse mountinfo order (the last mounted is
// on top) after ordering deeper paths first, so no unmount hits EBUSY because
// of a mount below it. A mount still busy after that is detached lazily: the
// alternative is leaving it behind for good.
func unmountAll(mounts []Mount) ([]string, error) {
	order := make([]Mount, len(mounts))
	for i, m := range mounts {
		order[len(mounts)-1-i] = m
	}
	sort.SliceStable(order, func(i, j int) bool {
		return strings.Count(order[i].MountPoint, "/") > strings.Count(order[j].MountPoint, "/")
	})
	var done []string
	var errs []error
	for _, m := range order {
		err := unix.Unmount(m.MountPoint, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(m.MountPoint, unix.MNT_DETACH)
		}
		switch {
		case err == nil:
			done = append(done, m.MountPoint)
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT):
			// Already gone (unmounted along with a parent, or by its owner).
		default:
			errs = append(errs, fmt.Errorf("unmounting %s (%s): %w", m.MountPoint, m.FSType, err))
		}
	}
	return done, errors.Join(errs...)
}

// resolveDir makes dir absolute and resolves symlinks, since mountinfo has
// canonical paths. A dir that does not exist (yet) is used as given.
func resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

func isUnder(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}
