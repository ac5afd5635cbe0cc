package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
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

// runOnce runs bin and returns its wall time and its CPU time (user and
// system, all threads): the second is what the container start costs the
// node, and moves less with the load of a shared machine.
func runOnce(b *testing.B, bin string, args []string, state string) (wall, cpu time.Duration) {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", bin, err, stderr.String())
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// maxRSS measures bin's peak RSS in KiB with GNU time (0 when it is not
// installed). ru_maxrss of a child of this process would not do: os/exec
// starts children with vfork, and a vfork child's peak includes the
// parent's pages until it execs.
func maxRSS(b *testing.B, bin string, args []string, state string) float64 {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return 0
	}
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "maxrss-KiB %M", bin}, args...)...)
	cmd.Stdin = strings.NewReader(state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v: %s", bin, err, out)
	}
	var kib float64
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Sscanf(lines[len(lines)-1], "maxrss-KiB %g", &kib)
	return kib
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
// round measures a first container. It reports each variant's median wall
// time, its extra over the no-op binary, the ratio of the extra at 250 pods
// to the extra at 0, and the peak RSS.
//
// CRIO_USERNS_BENCH_HOOK names the binary to measure (make bench passes the
// one it builds for installing); without it the test builds its own.
func BenchmarkExecCompare(b *testing.B) {
	hook := os.Getenv("CRIO_USERNS_BENCH_HOOK")
	if hook == "" {
		hook = buildHook(b)
	}
	noop := buildNoop(b)
	pods := startPodProcesses(b, slices.Max(podCounts))
	type variant struct {
		name  string
		bin   string
		args  []string
		state string
		// after undoes what a run registered (untimed).
		after       func()
		walls, cpus []time.Duration
	}
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
			v := &variant{name: fmt.Sprintf("full-%s-%dpods", sh.name, n), bin: hook, args: e.args(),
				state: e.bundle(b, "me", "me", me, self, self, true)}
			meNS := nsOf(b, me)
			v.after = func() { unregister(b, e, meNS) }
			vs = append(vs, v)
		}
	}
	vs[0].state = vs[1].state
	plain := &variant{name: "no-userns", bin: hook, args: plainEnv.args(),
		state: plainEnv.hostBundle(b, "plain", "plain", os.Getpid())}
	vs = slices.Insert(vs, 1, plain)
	// CRIO_USERNS_BENCH_ONLY=REGEXP keeps the no-op binary and the variants
	// whose names match (to profile one of them).
	if only := os.Getenv("CRIO_USERNS_BENCH_ONLY"); only != "" {
		re := regexp.MustCompile(only)
		vs = slices.DeleteFunc(vs, func(v *variant) bool { return v.name != "noop" && !re.MatchString(v.name) })
	}
	for b.Loop() {
		for _, v := range vs {
			wall, cpu := runOnce(b, v.bin, v.args, v.state)
			v.walls, v.cpus = append(v.walls, wall), append(v.cpus, cpu)
			if v.after != nil {
				v.after()
			}
		}
	}
	b.StopTimer()
	base, baseCPU := median(vs[0].walls), median(vs[0].cpus)
	extra := map[string]time.Duration{}
	for _, v := range vs {
		rss := maxRSS(b, v.bin, v.args, v.state)
		if v.after != nil {
			v.after()
		}
		med := median(v.walls)
		extra[v.name] = med - base
		b.ReportMetric(float64(med.Microseconds()), v.name+"-median-us")
		if v.name != "noop" {
			b.ReportMetric(float64((med - base).Microseconds()), v.name+"-extra-us")
			b.ReportMetric(float64((median(v.cpus) - baseCPU).Microseconds()), v.name+"-extra-cpu-us")
		}
		b.ReportMetric(rss, v.name+"-maxrss-KiB")
	}
	for _, sh := range shapes {
		lo, hi := extra[fmt.Sprintf("full-%s-%dpods", sh.name, podCounts[0])], extra[fmt.Sprintf("full-%s-%dpods", sh.name, slices.Max(podCounts))]
		if lo > 0 {
			b.ReportMetric(float64(hi)/float64(lo), fmt.Sprintf("full-%s-ratio-%d/%d", sh.name, slices.Max(podCounts), podCounts[0]))
		}
	}
}

// startUserns starts a process in a new user namespace with maps as both
// its uid and gid map, as a container's would be, and returns its pid.
func startUserns(b *testing.B, maps []rspec.LinuxIDMapping) int {
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
func startPodProcesses(b *testing.B, n int) []int {
	pids := make([]int, n)
	for i := range pids {
		pids[i] = startUserns(b, []rspec.LinuxIDMapping{{ContainerID: 0, HostID: podBase(i), Size: 65536}})
	}
	return pids
}

func podBase(i int) uint32 { return 300000 + uint32(i)*blockSize }

func nsOf(b *testing.B, pid int) nsfs.ID {
	id, err := nsfs.Stat(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// registerPods registers one live pod per process, each in its own
// project with its own root ID, as the hook would have.
func registerPods(b *testing.B, e env, pids []int, sh shape) {
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
func unregister(b *testing.B, e env, id nsfs.ID) {
	reg := &registry.Registry{Dir: e.regDir, ProcRoot: "/proc"}
	if err := reg.Remove(id); err != nil {
		b.Fatal(err)
	}
}

func benchEnv(b *testing.B) env {
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
	pol := fmt.Sprintf("allowed_uids = [\"10000-268635455\"]\nallowed_gids = [\"10000-268635455\"]\nregistry_dir = %q\naudit_log = \"none\"\n", e.regDir)
	// Root only: every map measured covers it, so no run logs a warning.
	e.passwd = "root:x:0:0:::\n"
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		b.Fatal(err)
	}
	return e
}
