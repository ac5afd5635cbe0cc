package registry

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// Identity is what makes a container's process recognisable later.
type Identity struct {
	StartTime uint64
	NS        nsfs.ID // its user namespace
}

// Identify reads pid's start time and user namespace from procRoot
// (normally /proc).
func Identify(procRoot string, pid int) (Identity, error) {
	var id Identity
	var err error
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	if id.NS, err = nsfs.Stat(filepath.Join(dir, "ns", "user")); err != nil {
		return Identity{}, err
	}
	if id.StartTime, err = startTime(filepath.Join(dir, "stat")); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// StartTime reads pid's start time from procRoot (normally /proc).
func StartTime(procRoot string, pid int) (uint64, error) {
	return startTime(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
}

// startTime reads field 22 of /proc/PID/stat (clock ticks after boot). The
// command name, field 2, is in parentheses and may itself contain spaces and
// ')', so fields are counted after the last ')'.
func startTime(path string) (start uint64, err error) {
	err = safefile.ReadWith(path, safefile.Options{Limit: 4096}, func(data []byte) (err error) {
		start, err = parseStartTime(path, data)
		return err
	})
	return start, err
}

func parseStartTime(path string, data []byte) (uint64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no ')' after the command name", path)
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("%s: %d fields after the command name, want at least 20", path, len(fields))
	}
	v, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: start time: %w", path, err)
	}
	return v, nil
}

// Alive reports whether e's user namespace still exists: its process runs
// with the recorded start time in the recorded namespace, or its pin still
// holds that namespace. Errors reading /proc count as "gone" (ENOENT is the
// normal case); the caller acts only on entries that overlap, and dropping a
// live one would lose a conflict, so only definite answers drop: a pid that
// is not there, another process, another namespace.
func Alive(procRoot string, e *Entry) bool {
	// The pin first: one stat, and it holds for every pod CRI-O pins.
	if e.NSPath != "" {
		if id, err := nsfs.Stat(e.NSPath); err == nil && id == e.NS {
			return true
		}
	}
	id, err := Identify(procRoot, e.PID)
	if err == nil && id == (Identity{StartTime: e.StartTime, NS: e.NS}) {
		return true
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ESRCH) {
		// Not a definite "gone" (e.g. EACCES): keep the entry.
		return true
	}
	return false
}
