package node

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Leftovers is what a node left on the machine after it was brought down.
// Each list must be empty: anything here is a leak.
type Leftovers struct {
	Processes         []string // "pid cmdline"
	Mounts            []string
	PinnedNamespaces  []string // pin files under namespaces_dir
	StorageContainers []string // containers/storage containers (not images)
	// Cgroups are pod and monitor cgroups of a node whose CRI-O uses the
	// systemd cgroup manager (the guest node); the host bench leaves none.
	Cgroups []string `json:",omitempty"`
}

// Empty reports whether nothing was left behind.
func (l *Leftovers) Empty() bool {
	return len(l.Processes)+len(l.Mounts)+len(l.PinnedNamespaces)+len(l.StorageContainers)+len(l.Cgroups) == 0
}

func (l *Leftovers) String() string {
	if l.Empty() {
		return "nothing left behind"
	}
	var b strings.Builder
	for _, s := range []struct {
		what  string
		items []string
	}{
		{"processes", l.Processes},
		{"mounts", l.Mounts},
		{"pinned namespaces", l.PinnedNamespaces},
		{"storage containers", l.StorageContainers},
		{"cgroups", l.Cgroups},
	} {
		if len(s.items) > 0 {
			fmt.Fprintf(&b, "left behind: %d %s:\n  %s\n", len(s.items), s.what, strings.Join(s.items, "\n  "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// FindLeftovers inspects the machine for anything of the node's that should
// be gone once it is down. knownPIDs are container processes recorded while
// the node ran (their command lines need not mention the state dir).
func (l Layout) FindLeftovers(knownPIDs []int) (*Leftovers, error) {
	out := &Leftovers{}
	var err error
	if out.Mounts, err = mountsUnder(l.State); err != nil {
		return nil, err
	}
	out.Processes = processesOf(l.State, knownPIDs)
	out.PinnedNamespaces = pinFiles(l.NamespacesDir())
	if out.StorageContainers, err = storageContainers(l.StorageRoot()); err != nil {
		return nil, err
	}
	return out, nil
}

// processesOf lists live processes whose command line names stateDir (crio,
// conmon, runc) or whose PID is in known, except this process's ancestors
// (the shell that ran `make node-down` may well mention the state dir).
func processesOf(stateDir string, known []int) []string {
	ancestors := map[int]bool{}
	for pid := os.Getpid(); pid > 1; {
		ancestors[pid] = true
		pid = parentOf(pid)
	}
	isKnown := map[int]bool{}
	for _, p := range known {
		isKnown[p] = true
	}
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ancestors[pid] || isZombie(pid) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		if isKnown[pid] || strings.Contains(cmdline, stateDir) {
			found = append(found, fmt.Sprintf("%d %s", pid, cmdline))
		}
	}
	return found
}

func parentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// pinFiles lists the files CRI-O pins namespaces on (netns/ID, userns/ID...).
func pinFiles(dir string) []string {
	var pins []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			pins = append(pins, path)
		}
		return nil
	})
	sort.Strings(pins)
	return pins
}

// storageContainers reads containers/storage's container list for the
// overlay driver. Image layers are not leaks; containers are.
func storageContainers(root string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "overlay-containers", "containers.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID    string   `json:"id"`
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("reading storage container list: %w", err)
	}
	var out []string
	for _, c := range list {
		out = append(out, fmt.Sprintf("%s %s", c.ID, strings.Join(c.Names, ",")))
	}
	return out, nil
}
