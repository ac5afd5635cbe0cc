package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// SweepPerRun is how many entries, picked at random, each writing hook
// checks for liveness (see the package doc).
const SweepPerRun = 1

// Size bounds: an index of 64 Ki namespaces, an entry of 340 extents a side.
const (
	MaxIndexSize = 16 << 20
	MaxEntrySize = 64 << 10
)

// Registry is the registry in Dir, checking liveness against ProcRoot.
type Registry struct {
	Dir      string
	ProcRoot string
}

func (r *Registry) lockFile() string            { return filepath.Join(r.Dir, "lock") }
func (r *Registry) indexFile() string           { return filepath.Join(r.Dir, "index") }
func (r *Registry) entryDir() string            { return filepath.Join(r.Dir, "ns") }
func (r *Registry) entryFile(id nsfs.ID) string { return filepath.Join(r.entryDir(), fileName(id)) }

// legacyFile is the previous format's one file.
func (r *Registry) legacyFile() string { return filepath.Join(r.Dir, "registry") }

// Stats says what a transaction cost, for tests and benchmarks.
type Stats struct {
	Entries  int // namespaces registered when it began
	Read     int // entry files read
	Verified int // liveness checks made
	Pruned   int // dead entries removed
	Written  bool
}

// Txn is one hook's look at the registry: Begin's under the exclusive
// lock, for a hook that may prune and record; Snapshot's without it, read
// only.
type Txn struct {
	r        *Registry
	writable bool
	unlock   func()
	ix       *index
	d        *indexData         // non-nil once decoded for a change
	spliced  []byte             // the index with one namespace added, when d is nil
	cache    map[nsfs.ID]*Entry // entries read whole
	heads    map[nsfs.ID]*Entry // entries read without their maps
	unlinks  []nsfs.ID
	Stats    Stats
}

// Begin takes the exclusive lock, checks the directory, and reads the
// index (rebuilding it from the entries when it is missing or damaged, and
// taking over a registry of the previous format). Blocking on the lock is
// safe: the hook's own deadline ends a wait that runs long.
func (r *Registry) Begin() (*Txn, error) {
	if err := r.ensureDir(); err != nil {
		return nil, err
	}
	unlock, err := r.lock(unix.LOCK_EX, true)
	if err != nil {
		return nil, err
	}
	t := &Txn{r: r, writable: true, unlock: unlock, cache: map[nsfs.ID]*Entry{}, heads: map[nsfs.ID]*Entry{}}
	if err := t.load(); err != nil {
		unlock()
		return nil, err
	}
	if err := t.takeOverLegacy(); err != nil {
		unlock()
		return nil, err
	}
	return t, nil
}

// Snapshot reads the registry without the lock and without writing:
// writers replace files by rename, so it sees whole ones. A registry that
// does not exist yet is empty.
func (r *Registry) Snapshot() (*Txn, error) {
	t := &Txn{r: r, unlock: func() {}, cache: map[nsfs.ID]*Entry{}, heads: map[nsfs.ID]*Entry{}}
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Txn) load() error {
	data, err := safefile.Read(t.r.indexFile(), safefile.Options{Limit: MaxIndexSize, NoFollow: true, Trusted: true})
	switch {
	case err == nil:
		if t.ix, err = parseIndex(data); err == nil {
			t.Stats.Entries = t.ix.nNS
			return nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// No usable index: the entries are the truth.
	d, err := t.rebuild()
	if err != nil {
		return err
	}
	t.ix, _ = parseIndex(d.encode())
	t.Stats.Entries = t.ix.nNS
	if len(d.ns) > 0 || data != nil {
		t.d = d
	}
	return nil
}

// rebuild reads every entry file into a new index.
func (t *Txn) rebuild() (*indexData, error) {
	d := &indexData{}
	names, err := os.ReadDir(t.r.entryDir())
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	for _, de := range names {
		if strings.HasPrefix(de.Name(), ".") {
			continue // an unfinished write
		}
		e, err := t.readEntryFile(filepath.Join(t.r.entryDir(), de.Name()))
		if err != nil {
			return nil, err
		}
		if de.Name() != fileName(e.NS) {
			return nil, fmt.Errorf("%s: holds namespace %s", filepath.Join(t.r.entryDir(), de.Name()), fileName(e.NS))
		}
		d.add(e)
		t.cache[e.NS] = e
	}
	return d, nil
}

func (t *Txn) readEntryFile(path string) (*Entry, error) { return t.readEntry(path, true) }

func (t *Txn) readEntry(path string, withMaps bool) (*Entry, error) {
	o := safefile.Options{Limit: MaxEntrySize, NoFollow: true, Trusted: true}
	if !withMaps {
		// The head is well under a page; the maps after it may fill the
		// file. A head longer than that (long names) is read whole.
		o.Limit, o.Prefix = 4096, true
	}
	data, err := safefile.Read(path, o)
	if err == nil && o.Prefix && bytes.Count(data, []byte("\n")) < headLines {
		data, err = safefile.Read(path, safefile.Options{Limit: MaxEntrySize, NoFollow: true, Trusted: true})
	}
	if err != nil {
		return nil, err
	}
	t.Stats.Read++
	e, err := decodeEntry(data, withMaps)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// entry returns the registered entry of the namespace in record i of the
// index, nil when its file is gone (a crash between the writes of a prune).
func (t *Txn) entry(i int) (*Entry, error) { return t.entryOf(i, true) }

// entryHead is entry without the maps: enough to tell whether it is alive
// and whose it is.
func (t *Txn) entryHead(i int) (*Entry, error) { return t.entryOf(i, false) }

func (t *Txn) entryOf(i int, withMaps bool) (*Entry, error) {
	if i >= t.ix.nNS {
		return nil, fmt.Errorf("%s: %w: a reference past the namespace table", t.r.indexFile(), errIndex)
	}
	id := t.ix.ns(i).id
	if e, ok := t.cache[id]; ok {
		return e, nil
	}
	if e, ok := t.heads[id]; ok && !withMaps {
		return e, nil
	}
	e, err := t.readEntry(t.r.entryFile(id), withMaps)
	if errors.Is(err, fs.ErrNotExist) {
		t.cache[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e.NS != id {
		return nil, fmt.Errorf("%s: holds namespace %s", t.r.entryFile(id), fileName(e.NS))
	}
	if withMaps {
		t.cache[id] = e
	} else {
		t.heads[id] = e
	}
	return e, nil
}

// Result is what the registry says about one container's namespace.
type Result struct {
	// Conflicts are the host ranges live namespaces of other pods hold.
	Conflicts []Conflict
	// PodElsewhere is the live namespace registered for the container's pod
	// when it is not the container's own.
	PodElsewhere *Entry
	// OtherPod is the live entry of the container's own namespace when it
	// was registered by another pod: two pods in one user namespace.
	OtherPod *Entry
	// Registered says the container's namespace is already registered for
	// its pod, with its maps.
	Registered bool
}

// Query looks self's namespace up: host ranges other pods' live
// namespaces hold, and whether self's pod is registered in another
// namespace. Dead entries it meets are pruned; a writable transaction also
// checks SweepPerRun entries at random.
func (t *Txn) Query(self *Entry, rootRange *idmap.Range) (*Result, error) {
	res := &Result{}
	selfRef := -1
	if i, ok := t.ix.findNS(self.NS); ok {
		selfRef = i
		e, err := t.entry(i)
		if err != nil {
			return nil, err
		}
		switch {
		case e == nil:
		case e.Same(self):
			res.Registered = true
		case e.PodKey != self.PodKey && slices.Equal(e.UIDMaps, self.UIDMaps) && slices.Equal(e.GIDMaps, self.GIDMaps) && t.alive(e):
			res.OtherPod = e
		default:
			// self's namespace is alive and holds this key now: the entry
			// is of a dead namespace whose inode number was reused.
			t.prune(e.NS)
		}
	}

	// Candidates: namespaces whose spans meet self's host ranges.
	selfHash := hashString(self.Namespace)
	cand := map[int]bool{}
	for side, maps := range [2][]rspec.LinuxIDMapping{self.UIDMaps, self.GIDMaps} {
		hint := 0
		for _, m := range maps {
			if m.Size == 0 {
				continue
			}
			hr := idmap.HostRange(m)
			if t.ix.clearAround(side, hint, hr.First, hr.Last) {
				continue
			}
			shareableRoot := rootRange != nil && selfHash != 0 && m.ContainerID == 0 && m.Size == 1 && rootRange.Contains(m.HostID)
			hint = t.ix.overlapping(side, hr.First, hr.Last, hint, func(s span) {
				if s.ns == selfRef || cand[s.ns] {
					return
				}
				if shareableRoot && s.root && s.first == m.HostID && s.ns < t.ix.nNS && t.ix.ns(s.ns).nsHash == selfHash {
					return // pods of one project share their root ID
				}
				cand[s.ns] = true
			})
		}
	}
	refs := make([]int, 0, len(cand))
	for i := range cand {
		refs = append(refs, i)
	}
	slices.Sort(refs)
	for _, i := range refs {
		e, err := t.entry(i)
		if err != nil {
			return nil, err
		}
		if e == nil {
			t.prune(t.ix.ns(i).id)
			continue
		}
		cs := Conflicts(self, e, rootRange)
		if len(cs) == 0 {
			continue
		}
		if !t.alive(e) {
			t.prune(e.NS)
			continue
		}
		res.Conflicts = append(res.Conflicts, cs...)
	}

	// The pod's namespace.
	if self.PodKey != "" {
		if i, ok := t.ix.podNS(hashString(self.PodKey)); ok && i != selfRef {
			e, err := t.entryHead(i)
			if err != nil {
				return nil, err
			}
			switch {
			case e == nil:
			case e.PodKey != self.PodKey:
				// A hash collision: another pod.
			case t.alive(e):
				res.PodElsewhere = e
			default:
				t.prune(e.NS)
			}
		}
	}

	if t.writable {
		if err := t.sweep(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sweep checks SweepPerRun entries picked at random and prunes the dead.
func (t *Txn) sweep() error {
	for range min(SweepPerRun, t.ix.nNS) {
		i := rand.IntN(t.ix.nNS)
		e, err := t.entryHead(i)
		if err != nil {
			return err
		}
		if e == nil {
			t.prune(t.ix.ns(i).id)
		} else if !t.alive(e) {
			t.prune(e.NS)
		}
	}
	return nil
}

func (t *Txn) alive(e *Entry) bool {
	t.Stats.Verified++
	return Alive(t.r.ProcRoot, e)
}

// prune drops id's entry (in a writable transaction; a snapshot only
// ignores it).
func (t *Txn) prune(id nsfs.ID) {
	if !t.writable {
		return
	}
	if t.d == nil {
		t.d = t.ix.decode()
	}
	t.d.remove(id)
	t.unlinks = append(t.unlinks, id)
	t.Stats.Pruned++
}

// Record registers self's namespace for its pod, replacing the pod's
// earlier one, unless it is registered already.
func (t *Txn) Record(self *Entry, res *Result) error {
	if !t.writable {
		return errors.New("registry: Record in a read-only transaction")
	}
	if res.Registered && res.PodElsewhere == nil {
		return nil
	}
	if err := t.writeFile(t.r.entryDir(), fileName(self.NS), self.Encode()); err != nil {
		return err
	}
	if t.d == nil {
		if data, ok := t.ix.withAdded(self); ok {
			// Bytes just built: no checksum to verify.
			ix, err := layoutIndex(data[:len(data)-4])
			if err != nil {
				return err
			}
			t.ix, t.spliced = ix, data
			t.unlinks = slices.DeleteFunc(t.unlinks, func(id nsfs.ID) bool { return id == self.NS })
			return nil
		}
		t.d = t.ix.decode()
	}
	t.d.add(self)
	t.unlinks = slices.DeleteFunc(t.unlinks, func(id nsfs.ID) bool { return id == self.NS })
	return nil
}

// Close writes the index if the transaction changed it, removes the files
// of pruned entries (after the index no longer names them), and unlocks.
func (t *Txn) Close() error {
	defer t.unlock()
	if !t.writable {
		return nil
	}
	data := t.spliced
	if t.d != nil {
		data = t.d.encode()
	}
	if data == nil {
		return nil
	}
	if err := t.writeFile(t.r.Dir, "index", data); err != nil {
		return err
	}
	t.Stats.Written = true
	for _, id := range t.unlinks {
		if err := os.Remove(t.r.entryFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Len is the number of registered namespaces.
func (t *Txn) Len() int { return t.ix.nNS }

// Entry returns the i-th registered namespace's entry (nil when its file
// is gone), in key order.
func (t *Txn) Entry(i int) (*Entry, error) { return t.entry(i) }

// Remove drops the entry of namespace id, as its death would in time.
func (r *Registry) Remove(id nsfs.ID) error {
	t, err := r.Begin()
	if err != nil {
		return err
	}
	if _, ok := t.ix.findNS(id); ok {
		t.prune(id)
	}
	return t.Close()
}

// PodNamespace returns the live registered namespace of the pod with key
// podKey, nil when there is none: a lock-free read for containers that have
// no user namespace of their own.
func (r *Registry) PodNamespace(podKey string) (*Entry, error) {
	if podKey == "" {
		return nil, nil
	}
	t, err := r.Snapshot()
	if err != nil {
		return nil, err
	}
	i, ok := t.ix.podNS(hashString(podKey))
	if !ok {
		return nil, nil
	}
	e, err := t.entryHead(i)
	if err != nil || e == nil || e.PodKey != podKey || !t.alive(e) {
		return nil, err
	}
	return e, nil
}

// ensureDir creates Dir (0700) or checks that the existing one is a
// directory of ours that nobody else can write: whoever can replace the
// registry can hide a pod from the checks or block every user-namespaced
// container.
func (r *Registry) ensureDir() error {
	euid := os.Geteuid()
	for _, dir := range []string{r.Dir, r.entryDir()} {
		var st unix.Stat_t
		err := unix.Lstat(dir, &st)
		if errors.Is(err, unix.ENOENT) {
			if dir != r.Dir {
				continue // created with the first entry
			}
			if err := os.MkdirAll(r.Dir, 0o700); err != nil {
				return err
			}
			err = unix.Lstat(dir, &st)
		}
		if err != nil {
			return &os.PathError{Op: "lstat", Path: dir, Err: err}
		}
		switch {
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return fmt.Errorf("%s: not a directory", dir)
		case int(st.Uid) != euid:
			return fmt.Errorf("%s: owned by UID %d, not by the hook's UID %d", dir, st.Uid, euid)
		case st.Mode&0o022 != 0:
			return fmt.Errorf("%s: writable by group or others (mode %#o)", dir, st.Mode&0o777)
		}
	}
	return nil
}

func (r *Registry) lock(how int, create bool) (func(), error) {
	flags := unix.O_RDWR
	if create {
		flags |= unix.O_CREAT
	}
	if how == unix.LOCK_SH {
		flags = unix.O_RDONLY
	}
	fd, err := unix.Open(r.lockFile(), flags|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: r.lockFile(), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: not a regular file", r.lockFile())
	}
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: r.lockFile(), Err: err}
	}
	return func() { unix.Close(fd) }, nil
}
