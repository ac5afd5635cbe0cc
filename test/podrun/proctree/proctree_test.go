package proctree

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fakeProc writes a /proc-like tree: each process gets status, cmdline,
// uid_map, gid_map and, if withChildren, task/<pid>/children.
type fakeProcess struct {
	pid, ppid, uid, gid int
	cmdline             []string
	children            []int
}

func writeFakeProc(t *testing.T, procs []fakeProcess, withChildren bool) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		write := func(name, content string) {
			t.Helper()
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("status", strings.Join([]string{
			"Name:\t" + p.cmdline[0],
			"PPid:\t" + strconv.Itoa(p.ppid),
			"Uid:\t" + strings.Repeat(strconv.Itoa(p.uid)+"\t", 4),
			"Gid:\t" + strings.Repeat(strconv.Itoa(p.gid)+"\t", 4),
			"CapInh:\t0000000000000000",
			"CapPrm:\t000000000000051b",
			"CapEff:\t000000000000051b",
			"CapBnd:\t000000000000051b",
			"",
		}, "\n"))
		write("cmdline", strings.Join(p.cmdline, "\x00")+"\x00")
		write("uid_map", "         1     200000      65535\n         0 1000650000          1\n")
		write("gid_map", "         0     200000      65536\n")
		if withChildren {
			var kids []string
			for _, c := range p.children {
				kids = append(kids, strconv.Itoa(c))
			}
			write(filepath.Join("task", strconv.Itoa(p.pid), "children"), strings.Join(kids, " "))
		} else {
			if err := os.MkdirAll(filepath.Join(dir, "task", strconv.Itoa(p.pid)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestReadProc(t *testing.T) {
	// Field report 004's tree: python forks sleepers that setuid'd, plus an
	// unrelated process that must not appear.
	procs := []fakeProcess{
		{pid: 100, ppid: 1, uid: 1000650000, gid: 200000, cmdline: []string{"python3", "test_multiuser.py"}, children: []int{102, 101}},
		{pid: 101, ppid: 100, uid: 200001, gid: 200002, cmdline: []string{"sleep", "3002"}, children: []int{103}},
		{pid: 102, ppid: 100, uid: 265533, gid: 265534, cmdline: []string{"sleep", "68534"}},
		{pid: 103, ppid: 101, uid: 200007, gid: 200012, cmdline: []string{"sh", "-c", "sleep 1"}},
		{pid: 200, ppid: 1, uid: 0, gid: 0, cmdline: []string{"unrelated"}},
	}
	want := &Snapshot{
		UIDMap: [][3]uint32{{1, 200000, 65535}, {0, 1000650000, 1}},
		GIDMap: [][3]uint32{{0, 200000, 65536}},
		CapBnd: "000000000000051b",
		CapEff: "000000000000051b",
		Processes: []Process{
			{HostPID: 100, HostUID: 1000650000, HostGID: 200000, Cmd: "python3 test_multiuser.py"},
			{HostPID: 101, HostUID: 200001, HostGID: 200002, Cmd: "sleep 3002"},
			{HostPID: 102, HostUID: 265533, HostGID: 265534, Cmd: "sleep 68534"},
			{HostPID: 103, HostUID: 200007, HostGID: 200012, Cmd: "sh -c sleep 1"},
		},
	}
	for _, withChildren := range []bool{true, false} {
		name := "children files"
		if !withChildren {
			name = "PPid scan (no CONFIG_PROC_CHILDREN)"
		}
		t.Run(name, func(t *testing.T) {
			got, err := ReadProc(writeFakeProc(t, procs, withChildren), 100)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ReadProc =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestReadProcErrors(t *testing.T) {
	root := writeFakeProc(t, []fakeProcess{{pid: 5, ppid: 1, cmdline: []string{"x"}}}, true)
	if _, err := ReadProc(root, 6); err == nil {
		t.Error("ReadProc of a missing process: no error")
	}
	if err := os.WriteFile(filepath.Join(root, "5", "uid_map"), []byte("0 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadProc(root, 5); err == nil || !strings.Contains(err.Error(), "uid_map") {
		t.Errorf("ReadProc with a bad uid_map: %v", err)
	}
}

func TestReadProcSelf(t *testing.T) {
	// The real /proc: this test process has no children, but its own entry
	// must parse.
	procs, err := ReadProcessTree("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if procs[0].HostPID != os.Getpid() || int(procs[0].HostUID) != os.Getuid() || procs[0].Cmd == "" {
		t.Errorf("own process = %+v", procs[0])
	}
}
