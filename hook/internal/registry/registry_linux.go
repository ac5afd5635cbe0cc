package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// SweepPerRun is how many entries at the head of the file each recording
// hook checks for liveness (see the package doc).
const SweepPerRun = 4

// MaxFileSize bounds the registry file: 64 Ki entries of ~250 bytes.
const MaxFileSize = 16 << 20

// Registry is the registry in Dir, checking liveness against ProcRoot.
type Registry struct {
	Dir      string
	ProcRoot string
}

// File and LockFile are the registry's two files.
func (r *Registry) File() string     { return filepath.Join(r.Dir, "registry") }
func (r *Registry) LockFile() string { return filepath.Join(r.Dir, "registry.lock") }

// Stats says what one call cost, for tests and benchmarks.
type Stats struct {
	Entries  int // entries read
	Verified int // liveness checks made
	Pruned   int // dead entries removed
	Written  bool
}

// CheckAndRecord returns the live entries of other pods whose host ranges
// overlap self's, and, if record is true and there are none (or force is
// true: audit mode lets the container run anyway), adds self, replacing any
// entry with the same container ID. All under an exclusive lock, so two
// pods created at once cannot both miss each other.
func (r *Registry) CheckAndRecord(self Entry, rootRange *idmap.Range, record, force bool) ([]Conflict, Stats, error) {
	if err := r.ensureDir(); err != nil {
		return nil, Stats{}, err
	}
	unlock, err := r.lock(unix.LOCK_EX, true)
	if err != nil {
		return nil, Stats{}, err
	}
	defer unlock()
	entries, err := r.read()
	if err != nil {
		return nil, Stats{}, err
	}
	st := Stats{Entries: len(entries)}
	conflicts, kept, changed := r.resolve(self, entries, rootRange, &st)

	// The sweep: check the head of the file, move survivors to the tail.
	var head []Entry
	for len(head) < SweepPerRun && len(kept) > 0 {
		e := kept[0]
		kept = kept[1:]
		st.Verified++
		if Alive(r.ProcRoot, e) {
			head = append(head, e)
		} else {
			st.Pruned++
		}
		changed = true
	}
	kept = append(kept, head...)

	if record && (len(conflicts) == 0 || force) {
		var out []Entry
		for _, e := range kept {
			// Earlier containers of this pod pinned to the same namespace are
			// represented by self from now on.
			if e.ContainerID == self.ContainerID || (self.NSPath != "" && e.NSPath == self.NSPath && SamePod(e, self)) {
				continue
			}
			out = append(out, e)
		}
		kept = append(out, self)
		changed = true
	}
	if changed {
		if err := r.write(kept); err != nil {
			return nil, st, err
		}
		st.Written = true
	}
	return conflicts, st, nil
}

// ensureDir creates Dir (0700) or checks that the existing one is a
// directory of ours that nobody else can write: whoever can replace the
// registry can hide a pod from check 7 or block every user-namespaced
// container.
func (r *Registry) ensureDir() error {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(r.Dir, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: r.Dir, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s: not a directory", r.Dir)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s: owned by UID %d, not by the hook's UID %d", r.Dir, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s: writable by group or others (mode %#o)", r.Dir, st.Mode&0o777)
	}
	return nil
}

// Check is CheckAndRecord without writing (for `validate`): a shared lock,
// no pruning, self's own container ID ignored.
func (r *Registry) Check(self Entry, rootRange *idmap.Range) ([]Conflict, Stats, error) {
	unlock, err := r.lock(unix.LOCK_SH, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No hook has locked here yet. Reading unlocked is still safe:
		// writers replace the file by rename, so a reader sees a whole one.
	case err != nil:
		return nil, Stats{}, err
	default:
		defer unlock()
	}
	entries, err := r.read()
	if err != nil {
		return nil, Stats{}, err
	}
	st := Stats{Entries: len(entries)}
	conflicts, _, _ := r.resolve(self, entries, rootRange, &st)
	return conflicts, st, nil
}

// resolve finds self's conflicts, confirming each colliding entry's
// liveness; dead ones are dropped from kept (changed reports that).
func (r *Registry) resolve(self Entry, entries []Entry, rootRange *idmap.Range, st *Stats) (conflicts []Conflict, kept []Entry, changed bool) {
	kept = entries[:0:0]
	for _, e := range entries {
		if e.ContainerID == self.ContainerID {
			kept = append(kept, e)
			continue
		}
		c := Conflicts(self, e, rootRange)
		if len(c) == 0 {
			kept = append(kept, e)
			continue
		}
		st.Verified++
		if !Alive(r.ProcRoot, e) {
			st.Pruned++
			changed = true
			continue
		}
		conflicts = append(conflicts, c...)
		kept = append(kept, e)
	}
	return conflicts, kept, changed
}

func (r *Registry) lock(how int, create bool) (func(), error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	if how == unix.LOCK_SH {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(r.LockFile(), flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	// Blocking is safe: the hook's own deadline ends a wait that runs long.
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: r.LockFile(), Err: err}
	}
	return func() { f.Close() }, nil
}

func (r *Registry) read() ([]Entry, error) {
	data, err := safefile.Read(r.File(), safefile.Options{Limit: MaxFileSize, NoFollow: true, Trusted: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.File(), err)
	}
	return entries, nil
}

func (r *Registry) write(entries []Entry) error {
	tmp, err := os.CreateTemp(r.Dir, ".registry-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(Encode(entries)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), r.File())
}
