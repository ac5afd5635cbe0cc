package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The benchmark's untimed probes: what one run of a variant costs in
// measures that the load of a shared machine does not move.

// hooksD is the shipped hooks.d entry's invocation.
type hooksD struct {
	Args []string // without the program name
	Env  []string
}

// shippedHook reads contrib/hooks.d's entry: the benchmark runs the hook
// the way the runtime runs it.
func shippedHook(t testing.TB) hooksD {
	files, err := filepath.Glob("../../../contrib/hooks.d/*.json")
	if err != nil || len(files) != 1 {
		t.Fatalf("want one contrib/hooks.d entry: %v %v", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	h, err := validateHookConfig(data)
	if err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	return hooksD{Args: h.Hook.Args[1:], Env: h.Hook.Env}
}

// args is the shipped args with the benchmark's policy.
func (h hooksD) args(e env) []string {
	return append(append([]string{}, h.Args...), "--policy", e.policy)
}

// probe runs the variant once under each measuring tool that is installed
// (untimed): GNU time for the peak RSS, strace for the system calls,
// valgrind for the instructions. A run registers its pod; the variant's
// after undoes that each time.
func (v *variant) probe(b *testing.B) {
	v.rss, v.syscalls, v.instructions = -1, -1, -1
	undo := func() {
		if v.after != nil {
			v.after()
		}
	}
	// ru_maxrss of a child of this process would not do: os/exec starts
	// children with vfork, and a vfork child's peak includes the parent's
	// pages until it execs.
	if out, ok, err := v.tool(b, "/usr/bin/time", "-f", "maxrss-KiB %M"); ok && must(b, v, err, out) {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		fmt.Sscanf(lines[len(lines)-1], "maxrss-KiB %g", &v.rss)
		undo()
	}
	counts := filepath.Join(b.TempDir(), "strace")
	if out, ok, err := v.tool(b, "strace", "-f", "-c", "-o", counts); ok && must(b, v, err, out) {
		v.syscalls = straceTotal(b, counts)
		undo()
	}
	// The Go runtime's asynchronous preemption signals crash valgrind 3.19.
	env := v.env
	v.env = append(append([]string{}, env...), "GODEBUG=asyncpreemptoff=1")
	// The hook's own deadline still runs: a loaded machine can make a run
	// under valgrind miss it (a refusal, exit 1); such a run is retried.
	for try := 1; ; try++ {
		out, ok, err := v.tool(b, "valgrind", "--tool=callgrind", "--callgrind-out-file="+callgrindOut(v.name))
		undo()
		if err == nil && ok {
			v.instructions = callgrindTotal(b, out)
		}
		if err == nil || try == 3 {
			if err != nil {
				b.Logf("%s under valgrind, %d tries: %v: %s", v.name, try, err, out)
			}
			break
		}
	}
	v.env = env
}

// tool runs the variant under a measuring tool; ok is false when the tool
// is not installed, err says how the run failed.
func (v *variant) tool(b *testing.B, name string, args ...string) (string, bool, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", false, nil
	}
	cmd := v.cmd(path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), true, err
}

func must(b *testing.B, v *variant, err error, out string) bool {
	if err != nil {
		b.Fatalf("%s: %v: %s", v.name, err, out)
	}
	return true
}

// straceTotal reads the calls column of strace -c's total line.
func straceTotal(b *testing.B, file string) float64 {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[len(f)-1] == "total" {
			if n, err := strconv.ParseFloat(f[3], 64); err == nil {
				return n
			}
		}
	}
	b.Fatalf("strace -c: no total line in %q", data)
	return 0
}

var collected = regexp.MustCompile(`Collected : ([0-9]+)`)

// callgrindTotal reads the instructions callgrind counted.
func callgrindTotal(b *testing.B, out string) float64 {
	m := collected.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("callgrind: no total in %q", out)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	return n
}

// callgrindOut is where callgrind writes a variant's profile: nowhere, or
// under CRIO_USERNS_BENCH_CALLGRIND_DIR, to read per function with
// callgrind_annotate (of a hook built without -s -w, for its symbols).
func callgrindOut(name string) string {
	if d := os.Getenv("CRIO_USERNS_BENCH_CALLGRIND_DIR"); d != "" {
		return filepath.Join(d, "callgrind."+name)
	}
	return "/dev/null"
}
