// Package proctree reads a container's processes from /proc: its ID maps,
// capabilities and the host identity of every process in its tree. It is
// small on purpose: the guest node's agent links it.
package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Process is one process of a container as the host sees it.
type Process struct {
	HostPID int    `json:"hostPid"`
	HostUID int64  `json:"hostUid"` // real UID, first field of status "Uid:"
	HostGID int64  `json:"hostGid"` // real GID, first field of status "Gid:"
	Cmd     string `json:"cmd"`     // cmdline, arguments joined by spaces
}

// Snapshot is what the host's /proc shows of a container's init process
// and its descendants at one moment.
type Snapshot struct {
	UIDMap    [][3]uint32 // [inside, outside, count] rows of uid_map
	GIDMap    [][3]uint32
	CapBnd    string // as the kernel prints it in status, e.g. 000001ffffffffff
	CapEff    string
	Processes []Process // the init process first, then descendants by PID
}

// ReadProc takes a snapshot of process pid and its descendants under procRoot
// (normally "/proc"; tests pass a fake tree).
func ReadProc(procRoot string, pid int) (*Snapshot, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	snap := &Snapshot{}
	var err error
	if snap.UIDMap, err = readIDMap(filepath.Join(dir, "uid_map")); err != nil {
		return nil, err
	}
	if snap.GIDMap, err = readIDMap(filepath.Join(dir, "gid_map")); err != nil {
		return nil, err
	}
	st, err := readStatus(dir)
	if err != nil {
		return nil, err
	}
	snap.CapBnd, snap.CapEff = st["CapBnd"], st["CapEff"]
	if snap.Processes, err = ReadProcessTree(procRoot, pid); err != nil {
		return nil, err
	}
	return snap, nil
}

func readIDMap(path string) ([][3]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	maps, err := idmap.ParseProcMap(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return idmap.Triples(maps), nil
}

// readStatus returns the "Key:\tvalue" lines of dir/status.
func readStatus(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	st := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st, nil
}

// ReadProcessTree returns process pid and all its descendants under procRoot,
// pid first and the rest sorted by PID. Children come from every thread's
// task/TID/children file where the kernel has them (CONFIG_PROC_CHILDREN);
// otherwise (as on the bench's kernel) from the PPid of every process. A
// process that exits mid-walk is skipped, except pid itself, whose
// disappearance is an error.
func ReadProcessTree(procRoot string, pid int) ([]Process, error) {
	root, err := readProcess(procRoot, pid)
	if err != nil {
		return nil, err
	}
	children := childrenFromTasks
	if _, err := os.Stat(filepath.Join(procRoot, strconv.Itoa(pid), "task", strconv.Itoa(pid), "children")); err != nil {
		children = childrenFromPPid(procRoot)
	}
	out := []Process{root}
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, child := range children(procRoot, p) {
			if seen[child] {
				continue
			}
			seen[child] = true
			proc, err := readProcess(procRoot, child)
			if err != nil {
				continue // exited since its parent listed it
			}
			out = append(out, proc)
			queue = append(queue, child)
		}
	}
	slices.SortFunc(out[1:], func(a, b Process) int { return a.HostPID - b.HostPID })
	return out, nil
}

func readProcess(procRoot string, pid int) (Process, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	st, err := readStatus(dir)
	if err != nil {
		return Process{}, err
	}
	p := Process{HostPID: pid}
	if p.HostUID, err = firstID(st["Uid"]); err != nil {
		return Process{}, fmt.Errorf("%s/status Uid: %w", dir, err)
	}
	if p.HostGID, err = firstID(st["Gid"]); err != nil {
		return Process{}, fmt.Errorf("%s/status Gid: %w", dir, err)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return Process{}, err
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	p.Cmd = string(bytes.Join(args, []byte(" ")))
	return p, nil
}

func firstID(field string) (int64, error) {
	f := strings.Fields(field)
	if len(f) == 0 {
		return 0, errors.New("missing")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// childrenFromTasks lists the children of every thread of pid from the
// kernel's task/TID/children files.
func childrenFromTasks(procRoot string, pid int) []int {
	tasks, err := os.ReadDir(filepath.Join(procRoot, strconv.Itoa(pid), "task"))
	if err != nil {
		return nil
	}
	var kids []int
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "task", t.Name(), "children"))
		if err != nil {
			continue // the thread exited
		}
		kids = append(kids, pids(strings.Fields(string(data)))...)
	}
	return kids
}

// childrenFromPPid scans every process's status once and returns a lookup of
// children by parent PID.
func childrenFromPPid(procRoot string) func(string, int) []int {
	byParent := map[int][]int{}
	entries, _ := os.ReadDir(procRoot)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStatus(filepath.Join(procRoot, e.Name()))
		if err != nil {
			continue // exited
		}
		if ppid, err := strconv.Atoi(st["PPid"]); err == nil {
			byParent[ppid] = append(byParent[ppid], pid)
		}
	}
	return func(_ string, pid int) []int { return byParent[pid] }
}

func pids(fields []string) []int {
	var out []int
	for _, f := range fields {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
