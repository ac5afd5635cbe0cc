package main

// These tests run the real binary: on the host as root (all five switches
// work), and in user namespaces shaped like the ones CRI-O gives the field
// reports' pods, checking from the host's /proc what the held children
// became, as field report 004 did with ps.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/testenv"
	images "github.com/crio-userns/crio-userns/test/images"
)

// workDir holds the binary and account files of the tests that run the real
// program; every user may read it, because processes in the user namespaces
// below are not host root.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "usernstest-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce          sync.Once
	bin, passwd, group string
	buildErr           error
)

// built compiles the program once, for the tests that run it; the pure unit
// tests do not depend on a working go build.
func built(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		bin = filepath.Join(workDir, "usernstest")
		passwd = filepath.Join(workDir, "passwd")
		group = filepath.Join(workDir, "group")
		// Static, as the images build it: Go's setuid on all threads
		// (AllThreadsSyscall) refuses to run with cgo.
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if buildErr = os.WriteFile(passwd, []byte(images.PasswdFile), 0o644); buildErr != nil {
			return
		}
		buildErr = os.WriteFile(group, []byte(images.GroupFile), 0o644)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func command(t *testing.T, args ...string) *exec.Cmd {
	built(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), EnvPasswd+"="+passwd, EnvGroup+"="+group, EnvHold+"=")
	return cmd
}

// output is a run's report, split into what the tests look at.
type output struct {
	lines   []string
	uidMap  string
	gidMap  string
	status  []string
	results []ChildResult
	summary string
}

func parseOutput(t *testing.T, lines []string) output {
	t.Helper()
	o := output{lines: lines}
	section := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "--- "):
			section = strings.TrimPrefix(l, "--- ")
		case strings.HasPrefix(l, "CHILD "):
			r, err := ParseChildLine(l)
			if err != nil {
				t.Fatal(err)
			}
			o.results = append(o.results, r)
		case strings.HasPrefix(l, "SUMMARY "):
			o.summary = l
		case section == "uid_map":
			o.uidMap += l + "\n"
		case section == "gid_map":
			o.gidMap += l + "\n"
		case section == "status":
			o.status = append(o.status, l)
		}
	}
	if len(lines) == 0 || lines[len(lines)-1] != o.summary {
		t.Fatalf("last line is not the SUMMARY:\n%s", strings.Join(lines, "\n"))
	}
	wantSections := "--- uid_map|--- gid_map|--- status|--- children"
	var got []string
	for _, l := range lines {
		if strings.HasPrefix(l, "--- ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "|") != wantSections {
		t.Errorf("sections %q, want %s", got, wantSections)
	}
	if len(o.status) != 4 {
		t.Errorf("status section %q, want the Uid, Gid, CapEff and CapBnd lines", o.status)
	}
	return o
}

func TestHostRootSwitchesAll(t *testing.T) {
	testenv.RequireRoot(t)
	start := time.Now()
	out, err := command(t).Output()
	if err != nil {
		t.Fatalf("usernstest: %v", err)
	}
	o := parseOutput(t, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
	if want := "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok"; o.summary != want {
		t.Errorf("summary %q, want %q\n%s", o.summary, want, out)
	}
	for _, r := range o.results {
		if r.GotUID != r.WantUID || r.GotGID != r.WantGID || r.Setgroups != "ok" {
			t.Errorf("%s: %s", r.User, r.Line())
		}
	}
	t.Logf("ran in %v:\n%s", time.Since(start), out)
}

func TestMissingAccountFailsThatChildOnly(t *testing.T) {
	short := filepath.Join(t.TempDir(), "passwd")
	var kept []string
	for _, l := range strings.SplitAfter(images.PasswdFile, "\n") {
		if !strings.HasPrefix(l, "mail:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(short, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := command(t)
	cmd.Env = append(cmd.Env, EnvPasswd+"="+short)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("usernstest must exit 0 when switches fail: %v\n%s", err, out)
	}
	o := parseOutput(t, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
	mail := o.results[len(o.results)-1]
	if mail.User != "mail" || mail.OK || mail.Known || !strings.Contains(mail.Err, `no user "mail"`) {
		t.Errorf("mail child: %s", mail.Line())
	}
	if !strings.HasSuffix(o.summary, " mail=fail") || len(o.results) != 5 {
		t.Errorf("summary %q with %d children", o.summary, len(o.results))
	}
}

func TestPause(t *testing.T) {
	tests := []struct {
		name string
		argv []string // argv[0] is what the process sees as its name
		sig  syscall.Signal
	}{
		{"as /pause, SIGTERM", []string{"/pause"}, syscall.SIGTERM},
		{"as /pause, SIGINT", []string{"/pause"}, syscall.SIGINT},
		{"pause argument", []string{"usernstest", "pause"}, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built(t)
			var out strings.Builder
			cmd := &exec.Cmd{Path: bin, Args: tt.argv, Stdout: &out, Stderr: &out}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("pause exited before any signal: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("pause after %v: %v, want exit 0", tt.sig, err)
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("pause did not exit on %v", tt.sig)
			}
			if out.Len() != 0 {
				t.Errorf("pause printed %q", out.String())
			}
		})
	}
}

// TestUserNamespaces runs the experiment in user namespaces shaped like
// CRI-O's and checks both the report and the host's view of the children.
func TestUserNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	m := func(c, h, s uint32) rspec.LinuxIDMapping {
		return rspec.LinuxIDMapping{ContainerID: c, HostID: h, Size: s}
	}
	tests := []struct {
		name        string
		uids, gids  []rspec.LinuxIDMapping
		setgroups   bool // /proc/PID/setgroups "allow" (as with CRI-O) or "deny"
		wantSummary string
		wantDaemon  string // the daemon child's setgid/setuid outcome
	}{
		{
			name: "auto range, as field report 004",
			uids: []rspec.LinuxIDMapping{m(0, 200000, 65536)}, gids: []rspec.LinuxIDMapping{m(0, 200000, 65536)},
			setgroups:   true,
			wantSummary: "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok",
			wantDaemon:  "ok/ok",
		},
		{
			// CRI-O's map-to-root with pod runAsUser 1000650000 (notes §6 A/C).
			name: "map-to-root of 1000650000",
			uids: []rspec.LinuxIDMapping{m(1, 200000, 65535), m(0, 1000650000, 1)}, gids: []rspec.LinuxIDMapping{m(0, 200000, 65536)},
			setgroups:   true,
			wantSummary: "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok",
			wantDaemon:  "ok/ok",
		},
		{
			name: "only root mapped",
			uids: []rspec.LinuxIDMapping{m(0, 1000650000, 1)}, gids: []rspec.LinuxIDMapping{m(0, 1000650000, 1)},
			setgroups:   true,
			wantSummary: "SUMMARY switched=1/5 root=ok daemon=fail operator=fail nobody=fail mail=fail",
			wantDaemon:  "EINVAL/EINVAL",
		},
		{
			// setgroups is EPERM here; uid and gid switching still works and
			// decides the result (see runChild).
			name: "setgroups denied",
			uids: []rspec.LinuxIDMapping{m(0, 200000, 65536)}, gids: []rspec.LinuxIDMapping{m(0, 200000, 65536)},
			setgroups:   false,
			wantSummary: "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok",
			wantDaemon:  "ok/ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runInUserns(t, tt.uids, tt.gids, tt.setgroups, tt.wantSummary, tt.wantDaemon)
		})
	}
}

func runInUserns(t *testing.T, uids, gids []rspec.LinuxIDMapping, setgroups bool, wantSummary, wantDaemon string) {
	cmd := command(t, "--hold", "30s")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                sysMaps(uids),
		GidMappings:                sysMaps(gids),
		GidMappingsEnableSetgroups: setgroups,
		// Without this the process keeps host root's credentials, which are
		// unmapped in the new namespace (it would be nobody there); with it,
		// it becomes the namespace's root, as runc makes a container's init.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !setgroups},
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	// Read up to SUMMARY; the parent then holds.
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got = append(got, sc.Text())
			if strings.HasPrefix(sc.Text(), "SUMMARY ") {
				break
			}
		}
		lines <- got
		for sc.Scan() { // drain, so nothing blocks on a full pipe
		}
		exited <- cmd.Wait()
	}()
	var out []string
	select {
	case out = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatalf("no SUMMARY within 20s; stderr: %s", stderr.String())
	}
	o := parseOutput(t, out)
	if o.summary != wantSummary {
		t.Errorf("summary %q, want %q\n%s", o.summary, wantSummary, strings.Join(out, "\n"))
	}
	// The kernel prints the extents in the order they were written.
	if printed, err := idmap.ParseProcMapString(o.uidMap); err != nil || !reflect.DeepEqual(printed, uids) {
		t.Errorf("printed uid_map %q (%v), want %v", o.uidMap, err, uids)
	}
	for _, r := range o.results {
		if r.User == "daemon" && r.Setgid+"/"+r.Setuid != wantDaemon {
			t.Errorf("daemon: %s, want setgid/setuid %s", r.Line(), wantDaemon)
		}
		if wantSG := map[bool]string{true: "ok", false: "EPERM"}[setgroups]; r.Setgroups != wantSG {
			t.Errorf("%s: setgroups=%s, want %s", r.User, r.Setgroups, wantSG)
		}
	}

	// The host's view: each held child is "usernstest child NAME UID:GID
	// hold 30s", and all its threads run as the host IDs its namespace IDs
	// map to.
	kids := children(t, cmd.Process.Pid)
	if len(kids) != len(Accounts) {
		t.Fatalf("parent has %d children, want %d", len(kids), len(Accounts))
	}
	byName := map[string]ChildResult{}
	for _, r := range o.results {
		byName[r.User] = r
	}
	for _, pid := range kids {
		argv := readCmdline(t, pid)
		if len(argv) != 6 || argv[0] != "usernstest" || argv[1] != "child" || argv[4] != "hold" {
			t.Errorf("child %d cmdline %q", pid, argv)
			continue
		}
		r := byName[argv[2]]
		wantUID, okU := idmap.ToHost(uids, r.GotUID)
		wantGID, okG := idmap.ToHost(gids, r.GotGID)
		if !okU || !okG {
			t.Errorf("%s: in-namespace %d:%d not mapped", r.User, r.GotUID, r.GotGID)
			continue
		}
		for _, task := range threadIDs(t, pid) {
			uid, gid := hostIDs(t, pid, task)
			if uid != wantUID || gid != wantGID {
				t.Errorf("%s (pid %d, thread %d): host %d:%d, want %d:%d (in-namespace %d:%d)",
					r.User, pid, task, uid, gid, wantUID, wantGID, r.GotUID, r.GotGID)
			}
		}
		t.Logf("HOST pid=%d %-40s host=%d:%d", pid, strings.Join(argv, " "), wantUID, wantGID)
	}

	// SIGTERM ends the hold: the parent stops its children and exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("parent after SIGTERM: %v, want exit 0; stderr: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parent did not exit within 10s of SIGTERM")
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range kids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("child %d still alive after the parent exited", pid)
		}
	}
}

func sysMaps(maps []rspec.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range maps {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

// children lists pid's child processes from every thread's children file:
// Go forks from whichever thread it is on.
func children(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	for _, task := range threadIDs(t, pid) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, task))
		if err != nil {
			continue // the thread exited
		}
		for _, f := range strings.Fields(string(data)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
	}
	return out
}

func threadIDs(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func readCmdline(t *testing.T, pid int) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// hostIDs returns the real uid and gid of one thread, as the host sees them.
func hostIDs(t *testing.T, pid, task int) (uint32, uint32) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/status", pid, task))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := StatusLines(f, []string{"Uid", "Gid"})
	if err != nil || len(lines) != 2 {
		t.Fatalf("status of %d/%d: %q %v", pid, task, lines, err)
	}
	id := func(line string) uint32 {
		n, err := strconv.ParseUint(strings.Fields(line)[1], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(n)
	}
	return id(lines[0]), id(lines[1])
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie is dead for our purposes (its parent has not reaped it yet).
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// TestCapabilitiesDropped reproduces what the restricted SCC does to the
// experiment (field report 000 run under OpenShift's restricted SCC: SETUID,
// SETGID, KILL and MKNOD dropped): only root "switches"; operator's setgid(0)
// is a no-op and succeeds; everything else is EPERM. setpriv drops the
// capabilities from the bounding set, as the runtime does for a container.
func TestCapabilitiesDropped(t *testing.T) {
	testenv.RequireRoot(t)
	setpriv := testenv.RequireTool(t, "setpriv", "util-linux")
	cmd := command(t)
	cmd.Args = append([]string{setpriv, "--bounding-set", "-setuid,-setgid,-kill,-mknod", "--", bin}, cmd.Args[1:]...)
	cmd.Path = setpriv
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	o := parseOutput(t, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
	want := []string{
		"CHILD user=root want=0:0 setgid=ok setuid=ok result=ok",
		"CHILD user=daemon want=2:2 setgid=EPERM setuid=EPERM result=FAIL",
		"CHILD user=operator want=11:0 setgid=ok setuid=EPERM result=FAIL",
		"CHILD user=nobody want=65534:65534 setgid=EPERM setuid=EPERM result=FAIL",
		"CHILD user=mail want=8:12 setgid=EPERM setuid=EPERM result=FAIL",
	}
	for i, r := range o.results {
		if !strings.HasPrefix(r.Line(), want[i]) {
			t.Errorf("got  %s\nwant %s ...", r.Line(), want[i])
		}
	}
	if want := "SUMMARY switched=1/5 root=ok daemon=fail operator=fail nobody=fail mail=fail"; o.summary != want {
		t.Errorf("summary %q, want %q", o.summary, want)
	}
}
