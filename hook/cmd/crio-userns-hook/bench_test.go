package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
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

// variant is one way of invoking a binary in BenchmarkExecCompare.
type variant struct {
	name  string
	bin   string
	args  []string
	state string
	walls []time.Duration
}

func runOnce(b *testing.B, bin string, args []string, state string) time.Duration {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", bin, err, stderr.String())
	}
	return time.Since(start)
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

// BenchmarkExecCompare runs the variants round-robin, so that the load
// drift of a small machine hits all of them alike, and reports each one's
// median wall time, its extra over the no-op binary, and its max RSS.
func BenchmarkExecCompare(b *testing.B) {
	hook := buildHook(b)
	noop := buildNoop(b)
	e := benchEnv(b)
	startPods(b, e, hook, 100)
	pid := startUserns(b, 200000)
	full := e.bundle(b, "me", "me", pid, m(0, 200000, 65536), m(0, 200000, 65536), true)
	e0 := benchEnv(b)
	pid0 := startUserns(b, 200000)
	full0 := e0.bundle(b, "me0", "me0", pid0, m(0, 200000, 65536), m(0, 200000, 65536), true)
	vs := []*variant{
		{name: "noop", bin: noop, state: full},
		{name: "no-userns", bin: hook, args: e.args(), state: e.bundle(b, "plain", "plain", os.Getpid(), nil, nil, false)},
		{name: "full-0pods", bin: hook, args: e0.args(), state: full0},
		{name: "full-100pods", bin: hook, args: e.args(), state: full},
	}
	for b.Loop() {
		for _, v := range vs {
			v.walls = append(v.walls, runOnce(b, v.bin, v.args, v.state))
		}
	}
	base := median(vs[0].walls)
	for _, v := range vs {
		rss := maxRSS(b, v.bin, v.args, v.state)
		med := median(v.walls)
		b.ReportMetric(float64(med.Microseconds()), v.name+"-median-us")
		if v.name != "noop" {
			b.ReportMetric(float64((med - base).Microseconds()), v.name+"-extra-us")
		}
		b.ReportMetric(rss, v.name+"-maxrss-KiB")
	}
}

func startUserns(b *testing.B, base uint32) int {
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(base), Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(base), Size: 65536}},
	}
	if err := cmd.Start(); err != nil {
		b.Skipf("user namespaces: %v", err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// startPods starts n processes in user namespaces with disjoint ranges and
// registers each by running the hook, as on a node with n running pods.
func startPods(b *testing.B, e env, hook string, n int) []int {
	var pids []int
	for i := range n {
		base := uint32(300000 + i*65536)
		pid := startUserns(b, base)
		st := e.bundle(b, fmt.Sprintf("p%d", i), fmt.Sprintf("pod%d", i), pid, m(0, base, 65536), m(0, base, 65536), true)
		if out, code := runBin(b, hook, e.args(), st, nil); code != 0 {
			b.Fatalf("registering pod %d: %s", i, out)
		}
		pids = append(pids, pid)
	}
	return pids
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
	pol := fmt.Sprintf("allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\nregistry_dir = %q\naudit_log = \"none\"\n", e.regDir)
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		b.Fatal(err)
	}
	return e
}
