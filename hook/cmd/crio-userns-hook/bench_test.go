package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// The exec benchmark measures what the runtime pays per container: start
// the binary, feed it the state, wait; next to a static Go binary that does
// nothing, invoked the same way, so that the difference is the hook's extra
// cost. Set CRIO_USERNS_BENCH_RUNDIR to a tmpfs directory (/run, /dev/shm)
// for the registry, as on a node.

var noopSrc = "package main\nfunc main() {}\n"

func buildNoop(b *testing.B) string {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(noopSrc), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module noop\n\ngo 1.26\n"), 0o644)
	bin := filepath.Join(dir, "noop")
	cmd := exec.Command(goTool(), "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the no-op binary: %v\n%s", err, out)
	}
	return bin
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// shape is a kind of ID map a pod may have.
type shape struct {
	name string
	// maps returns a registered pod's uid and gid maps in the host block
	// from base (blockSize IDs), with root's ID for map-to-root.
	maps func(base, root uint32) []rspec.LinuxIDMapping
	// self is the measured container's map. The kernel takes a map in one
	// write of less than a page, so a 340-extent map that a process can
	// really have uses short numbers.
	self []rspec.LinuxIDMapping
}

// blockSize spaces the benchmark's pods: every shape fits in it.
const blockSize = 131072

var shapes = []shape{
	// map-to-root, what the field reports' pods get: "1 base 65535" and
	// "0 root 1".
	{"realistic", func(base, root uint32) []rspec.LinuxIDMapping {
		return []rspec.LinuxIDMapping{{ContainerID: 1, HostID: base, Size: 65535}, {ContainerID: 0, HostID: root, Size: 1}}
	}, []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 200000, Size: 65535}, {ContainerID: 0, HostID: 1000000000, Size: 1}}},
	// The kernel's most extents, 340, scattered over the block and covering
	// container IDs 0-65619.
	{"340-extents", func(base, _ uint32) []rspec.LinuxIDMapping {
		out := make([]rspec.LinuxIDMapping, 340)
		for i := range out {
			out[i] = rspec.LinuxIDMapping{ContainerID: uint32(i) * 193, HostID: base + uint32(i)*200, Size: 193}
		}
		return out
	}, func() []rspec.LinuxIDMapping {
		out := make([]rspec.LinuxIDMapping, 340)
		for i := range out {
			out[i] = rspec.LinuxIDMapping{ContainerID: uint32(i), HostID: 10000 + uint32(i)*2, Size: 1}
		}
		return out
	}()},
}

// podCounts are the live registered pods the full check is measured at.
var podCounts = []int{0, 100, 250}

// BenchmarkExecCompare measures what the runtime pays per container, the
// variants run round-robin so that the load drift of a small machine hits
// all of them alike: a static no-op binary; the hook for a container in the
// host's user namespace (with the pod's network, IPC and UTS namespaces to
// look at, and 250 pods registered); and the hook's full check of a pod's
// first container with 0, 100 and 250 live pods registered, for each map
// shape, the registered pods having the same shape. The first container
// registers its pod; the entry is removed again, untimed, so that every
// round measures a first container. Both binaries run as the runtime runs
// the hook: contrib/hooks.d's args and environment, nothing else.
//
// It reports each variant's median wall time, its extra over the no-op
// binary (wall and CPU), the ratio of the extra at 250 pods to the extra at
// 0, and per run, what the wall clock of a loaded machine hides: the minor
// page faults and context switches (means over the timed runs; the second
// grows with the load), the system calls (strace -f -c) and the
// instructions (valgrind's callgrind, all threads; the Go runtime's own
// threads make it vary by a few percent), and the peak RSS (GNU time),
// each tool's figures only where it is installed. A table of them all is
// printed, with the load average before and after the timed runs.
//
// CRIO_USERNS_BENCH_HOOK names the binary to measure (make bench passes the
// one it builds for installing); without it the test builds its own.
func BenchmarkExecCompare(b *testing.B) {
	hook := os.Getenv("CRIO_USERNS_BENCH_HOOK")
	if hook == "" {
		hook = buildHook(b)
	}
	shipped := shippedHook(b)
	noop := buildNoop(b)
	pods := startPodProcesses(b, slices.Max(podCounts))
	vs := []*variant{{name: "noop", bin: noop}}
	var plainEnv env
	for _, sh := range shapes {
		me := startUserns(b, sh.self)
		for _, n := range podCounts {
			e := benchEnv(b)
			registerPods(b, e, pods[:n], sh)
			if sh.name == "realistic" && n == slices.Max(podCounts) {
				plainEnv = e
			}
			self := sh.self
			v := &variant{name: fmt.Sprintf("full-%s-%dpods", sh.name, n), bin: hook, args: shipped.args(e),
				state: e.bundle(b, "me", "me", me, self, self, true)}
			meNS := nsOf(b, me)
			v.after = func() { unregister(b, e, meNS) }
			vs = append(vs, v)
		}
	}
	vs[0].args, vs[0].state = vs[1].args, vs[1].state
	plain := &variant{name: "no-userns", bin: hook, args: shipped.args(plainEnv),
		state: plainEnv.hostBundle(b, "plain", "plain", os.Getpid())}
	vs = slices.Insert(vs, 1, plain)
	// CRIO_USERNS_BENCH_ONLY=REGEXP keeps the no-op binary and the variants
	// whose names match (to profile one of them; see callgrindOut).
	if only := os.Getenv("CRIO_USERNS_BENCH_ONLY"); only != "" {
		re := regexp.MustCompile(only)
		vs = slices.DeleteFunc(vs, func(v *variant) bool { return v.name != "noop" && !re.MatchString(v.name) })
	}
	for _, v := range vs {
		v.env = shipped.Env
	}
	loadBefore := loadAverage()
	for b.Loop() {
		for _, v := range vs {
			v.run(b)
		}
	}
	b.StopTimer()
	loadAfter := loadAverage()
	for _, v := range vs {
		v.probe(b)
	}
	report(b, vs)
	fmt.Printf("load average (1, 5, 15 min) before: %s; after: %s; %d runs of each\n", loadBefore, loadAfter, len(vs[0].walls))
}

// variant is one binary and input the benchmark runs.
type variant struct {
	name  string
	bin   string
	args  []string
	env   []string
	state string
	// after undoes what a run registered (untimed).
	after func()
	// Per timed run.
	walls, cpus     []time.Duration
	faults, ctxSwch []int64
	// From the untimed probes, -1 when the tool is missing.
	rss, syscalls, instructions float64
}

// run runs the variant once, as the runtime runs a hook, and records its
// wall time, CPU time (user and system, all threads: what the container
// start costs the node, and less moved by the load of a shared machine),
// minor page faults and context switches.
func (v *variant) run(b *testing.B) {
	cmd := v.cmd(v.bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", v.name, err, stderr.String())
	}
	v.walls = append(v.walls, time.Since(start))
	v.cpus = append(v.cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	v.faults = append(v.faults, ru.Minflt)
	v.ctxSwch = append(v.ctxSwch, ru.Nvcsw+ru.Nivcsw)
	if v.after != nil {
		v.after()
	}
}

// cmd runs name (the variant's binary, or a tool that runs it) with the
// variant's args, environment and state.
func (v *variant) cmd(name string, toolArgs ...string) *exec.Cmd {
	args := toolArgs
	if name != v.bin {
		args = append(args, v.bin)
	}
	cmd := exec.Command(name, append(args, v.args...)...)
	cmd.Env = v.env
	cmd.Stdin = strings.NewReader(v.state)
	return cmd
}

func report(b *testing.B, vs []*variant) {
	base := vs[0]
	baseWall, baseCPU := median(base.walls), median(base.cpus)
	extra := map[string]time.Duration{}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-26s %9s %9s %9s %8s %8s %9s %12s %8s\n", "variant", "median-us", "extra-us", "xcpu-us",
		"minflt", "ctxsw", "syscalls", "instructions", "rss-KiB")
	for _, v := range vs {
		med := median(v.walls)
		extra[v.name] = med - baseWall
		b.ReportMetric(float64(med.Microseconds()), v.name+"-median-us")
		if v != base {
			b.ReportMetric(float64((med - baseWall).Microseconds()), v.name+"-extra-us")
			b.ReportMetric(float64((median(v.cpus) - baseCPU).Microseconds()), v.name+"-extra-cpu-us")
		}
		b.ReportMetric(mean(v.faults), v.name+"-minflt")
		b.ReportMetric(mean(v.ctxSwch), v.name+"-ctxsw")
		for _, m := range []struct {
			unit string
			val  float64
		}{{"maxrss-KiB", v.rss}, {"syscalls", v.syscalls}, {"instructions", v.instructions}} {
			if m.val >= 0 {
				b.ReportMetric(m.val, v.name+"-"+m.unit)
			}
		}
		fmt.Fprintf(&table, "%-26s %9d %9d %9d %8.1f %8.1f %9s %12s %8s\n", v.name, med.Microseconds(),
			(med - baseWall).Microseconds(), (median(v.cpus) - baseCPU).Microseconds(), mean(v.faults), mean(v.ctxSwch),
			orNone(v.syscalls), orNone(v.instructions), orNone(v.rss))
	}
	for _, sh := range shapes {
		lo, hi := extra[fmt.Sprintf("full-%s-%dpods", sh.name, podCounts[0])], extra[fmt.Sprintf("full-%s-%dpods", sh.name, slices.Max(podCounts))]
		if lo > 0 {
			ratio := float64(hi) / float64(lo)
			b.ReportMetric(ratio, fmt.Sprintf("full-%s-ratio-%d/%d", sh.name, slices.Max(podCounts), podCounts[0]))
			fmt.Fprintf(&table, "full-%s: extra at %d pods / extra at %d = %.2f\n", sh.name, slices.Max(podCounts), podCounts[0], ratio)
		}
	}
	// Printed, not logged: a benchmark's log is cut at ten lines.
	fmt.Print(table.String())
}

func orNone(v float64) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func mean(xs []int64) float64 {
	var t int64
	for _, x := range xs {
		t += x
	}
	return float64(t) / float64(max(len(xs), 1))
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// startUserns starts a process in a new user namespace with maps as both
// its uid and gid map, as a container's would be, and returns its pid.
func startUserns(b testing.TB, maps []rspec.LinuxIDMapping) int {
	conv := make([]syscall.SysProcIDMap, len(maps))
	for i, m := range maps {
		conv[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	cmd := exec.Command("sleep", "3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: conv, GidMappings: conv}
	if err := cmd.Start(); err != nil {
		b.Fatalf("user namespaces: %v", err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// startPodProcesses starts n processes, each in a user namespace of its
// own: the running pods the registry entries point at.
func startPodProcesses(b testing.TB, n int) []int {
	pids := make([]int, n)
	for i := range pids {
		pids[i] = startUserns(b, []rspec.LinuxIDMapping{{ContainerID: 0, HostID: podBase(i), Size: 65536}})
	}
	return pids
}

func podBase(i int) uint32 { return 300000 + uint32(i)*blockSize }

func nsOf(b testing.TB, pid int) nsfs.ID {
	id, err := nsfs.Stat(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// registerPods registers one live pod per process, each in its own
// project with its own root ID, as the hook would have.
func registerPods(b testing.TB, e env, pids []int, sh shape) {
	reg := &registry.Registry{Dir: e.regDir, ProcRoot: "/proc"}
	for i, pid := range pids {
		id, err := registry.Identify("/proc", pid)
		if err != nil {
			b.Fatal(err)
		}
		maps := sh.maps(podBase(i), 1000650000+uint32(i)*10000)
		tx, err := reg.Begin()
		if err != nil {
			b.Fatal(err)
		}
		ent := &registry.Entry{NS: id.NS, PodKey: fmt.Sprintf("sandbox:sb-pod%d", i), Namespace: fmt.Sprintf("proj%d", i),
			Pod: fmt.Sprintf("pod%d", i), Container: "app", ContainerID: fmt.Sprintf("ctr%d", i),
			PID: pid, StartTime: id.StartTime, UIDMaps: maps, GIDMaps: maps}
		if err := tx.Record(ent, &registry.Result{}); err != nil {
			b.Fatal(err)
		}
		if err := tx.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// unregister removes a namespace's entry, as its death would in time.
func unregister(b testing.TB, e env, id nsfs.ID) {
	reg := &registry.Registry{Dir: e.regDir, ProcRoot: "/proc"}
	if err := reg.Remove(id); err != nil {
		b.Fatal(err)
	}
}

func benchEnv(b testing.TB) env {
	dir := b.TempDir()
	e := env{dir: dir, regDir: filepath.Join(dir, "run"), policy: filepath.Join(dir, "policy.toml")}
	if d := os.Getenv("CRIO_USERNS_BENCH_RUNDIR"); d != "" {
		// The registry belongs on a tmpfs (/run): ext4 flushes data on a
		// rename over an existing file, which costs milliseconds.
		rd, err := os.MkdirTemp(d, "reg-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(rd) })
		e.regDir = rd
	}
	// The longest deadline: under valgrind, on a loaded machine, a run
	// takes seconds.
	pol := fmt.Sprintf("allowed_uids = [\"10000-268635455\"]\nallowed_gids = [\"10000-268635455\"]\nregistry_dir = %q\naudit_log = \"none\"\ntimeout = %q\n", e.regDir, policy.MaxTimeout)
	// Root only: every map measured covers it, so no run logs a warning.
	e.passwd = "root:x:0:0:::\n"
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		b.Fatal(err)
	}
	return e
}
