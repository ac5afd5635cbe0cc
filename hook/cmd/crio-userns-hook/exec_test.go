package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

// These tests build the real binary and run it the way runc runs a
// createRuntime hook for CRI-O: the state JSON on stdin, args from the
// hooks.d file, stdout and stderr captured, killed at the hooks.d timeout.
// The container is a real process in a real user namespace, so /proc is the
// kernel's.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func buildHook(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crio-userns-hook-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "crio-userns-hook")
		out, err := exec.Command(goTool(), "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// hookTimeout is contrib/hooks.d's "timeout".
const hookTimeout = 5 * time.Second

// runBin runs bin like runc's hook runner and returns stderr and the exit
// status (-1 when killed at the timeout).
func runBin(t testing.TB, bin string, args []string, stdin string, stdinR io.Reader) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = "crio-userns-hook"
	if stdinR != nil {
		cmd.Stdin = stdinR
	} else {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stderr.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return stderr.String() + stdout.String(), 0
	case <-time.After(hookTimeout):
		cmd.Process.Kill()
		<-done
		return stderr.String(), -1
	}
}

// userns starts a process in a new user namespace with the given maps, as
// runc's init would be at createRuntime, and returns its pid.
func userns(t *testing.T, uid, gid []rspec.LinuxIDMapping) int {
	pid, _ := usernsKill(t, uid, gid)
	return pid
}

// usernsKill is userns plus a function that kills and reaps the process (a
// zombie still holds its user namespace, so it would still count).
func usernsKill(t *testing.T, uid, gid []rspec.LinuxIDMapping) (int, func()) {
	t.Helper()
	conv := func(ms []rspec.LinuxIDMapping) []syscall.SysProcIDMap {
		var out []syscall.SysProcIDMap
		for _, m := range ms {
			out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		return out
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: conv(uid),
		GidMappings: conv(gid),
	}
	testenv.RequireRoot(t)
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot create a user namespace: %v", err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(kill)
	return cmd.Process.Pid, kill
}

type env struct {
	dir, regDir, policy string
	passwd              string // the rootfs's /etc/passwd; root and nobody when ""
}

func newEnv(t *testing.T, extraPolicy string) env {
	dir := t.TempDir()
	e := env{dir: dir, regDir: filepath.Join(dir, "run"), policy: filepath.Join(dir, "policy.toml")}
	pol := fmt.Sprintf("allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\nregistry_dir = %q\naudit_log = \"none\"\n%s", e.regDir, extraPolicy)
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// bundle writes a CRI-O-like bundle and returns the state JSON for pid.
func (e env) bundle(t testing.TB, name, pod string, pid int, uid, gid []rspec.LinuxIDMapping, userNS bool) string {
	t.Helper()
	dir := filepath.Join(e.dir, name)
	os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755)
	passwd := e.passwd
	if passwd == "" {
		passwd = "root:x:0:0:::\nnobody:x:65534:65534:::\n"
	}
	os.WriteFile(filepath.Join(dir, "rootfs/etc/passwd"), []byte(passwd), 0o644)
	ns := []rspec.LinuxNamespace{{Type: rspec.PIDNamespace}, {Type: rspec.MountNamespace}}
	if userNS {
		ns = append(ns, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	}
	spec := rspec.Spec{
		Version: "1.3.0",
		Process: &rspec.Process{User: rspec.User{UID: 0, GID: 0}, Args: []string{"/app"}},
		Root:    &rspec.Root{Path: "rootfs"},
		Annotations: map[string]string{
			"io.kubernetes.pod.namespace": "proj", "io.kubernetes.pod.name": pod,
			"io.kubernetes.container.name": "app", "io.kubernetes.cri-o.SandboxID": "sb-" + pod,
		},
		Linux: &rspec.Linux{Namespaces: ns, UIDMappings: uid, GIDMappings: gid},
	}
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := json.Marshal(rspec.State{Version: "1.2.0", ID: "ctr-" + name, Status: "creating", Pid: pid, Bundle: dir})
	return string(st)
}

// hostBundle is bundle for a container in the host's user namespace that
// joins the pod's network, IPC and UTS namespaces by path, as CRI-O's do:
// those of process pid.
func (e env) hostBundle(t testing.TB, name, pod string, pid int) string {
	t.Helper()
	st := e.bundle(t, name, pod, pid, nil, nil, false)
	p := filepath.Join(e.dir, name, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec rspec.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []rspec.LinuxNamespaceType{rspec.NetworkNamespace, rspec.IPCNamespace, rspec.UTSNamespace} {
		proc := map[rspec.LinuxNamespaceType]string{rspec.NetworkNamespace: "net", rspec.IPCNamespace: "ipc", rspec.UTSNamespace: "uts"}[ns]
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, rspec.LinuxNamespace{Type: ns, Path: fmt.Sprintf("/proc/%d/ns/%s", pid, proc)})
	}
	if data, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return st
}

func (e env) args() []string {
	return []string{"--log-format", "json", "--policy", e.policy}
}

func m(c, h, s uint32) []rspec.LinuxIDMapping {
	return []rspec.LinuxIDMapping{{ContainerID: c, HostID: h, Size: s}}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func TestExecPassAndRegister(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "")
	pid := userns(t, m(0, 200000, 65536), m(0, 200000, 65536))
	out, code := runBin(t, bin, e.args(), e.bundle(t, "a", "web", pid, m(0, 200000, 65536), m(0, 200000, 65536), true), nil)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	entries, err := filepath.Glob(filepath.Join(e.regDir, "ns", "*"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("registry: %v %v", entries, err)
	}
	if reg, err := os.ReadFile(entries[0]); err != nil || !strings.Contains(string(reg), "sandbox:sb-web\tproj\tweb\napp\tctr-a\t") {
		t.Fatalf("registry: %q %v", reg, err)
	}
}

func TestExecLiveMapDiffers(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "")
	pid := userns(t, m(0, 200000, 65536), m(0, 200000, 65536))
	out, code := runBin(t, bin, e.args(), e.bundle(t, "a", "web", pid, m(0, 200000, 65535), m(0, 200000, 65536), true), nil)
	want := fmt.Sprintf("crio-userns-hook: proj/web/app: live uid_map of pid %d (0 200000 65536) differs from config.json's uidMappings (0 200000 65535); the OCI runtime did not apply the configured mapping: check the runtime and CRI-O's pinned namespaces, then recreate the pod", pid)
	if code != 1 || firstLine(out) != want {
		t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(out), want)
	}
	// Then one JSON record per finding.
	rest := strings.Split(strings.TrimSpace(out), "\n")[1:]
	if len(rest) != 1 {
		t.Fatalf("want one record, got %q", rest)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(rest[0]), &rec); err != nil || rec["check"] != "live-maps" || rec["action"] != "refused" || rec["pod_namespace"] != "proj" {
		t.Fatalf("record %q: %v", rest[0], err)
	}
}

func TestExecCrossPod(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "")
	pidA, killA := usernsKill(t, m(0, 200000, 65536), m(0, 200000, 65536))
	if out, code := runBin(t, bin, e.args(), e.bundle(t, "a", "web", pidA, m(0, 200000, 65536), m(0, 200000, 65536), true), nil); code != 0 {
		t.Fatalf("first pod: %d %s", code, out)
	}
	// A second pod on an overlapping private range.
	pidB := userns(t, m(0, 250000, 65536), m(0, 300000, 65536))
	stB := e.bundle(t, "b", "db", pidB, m(0, 250000, 65536), m(0, 300000, 65536), true)
	out, code := runBin(t, bin, e.args(), stB, nil)
	want := `crio-userns-hook: proj/db/app: host UIDs 250000-265535 of uid_map extent #1 (0 250000 65536) are already used by pod proj/web (container app, extent 0 200000 65536); give each pod its own host range (userns-mode "auto", or a "private:" mapping disjoint from other pods), or delete the other pod`
	if code != 1 || firstLine(out) != want {
		t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(out), want)
	}
	// Once the first pod's process is gone, its entry is stale and the
	// second pod passes.
	killA()
	if out, code := runBin(t, bin, e.args(), stB, nil); code != 0 {
		t.Fatalf("after the first pod died: %d %s", code, out)
	}
}

func TestExecNoUserNamespaceIsFast(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "")
	st := e.bundle(t, "a", "web", os.Getpid(), nil, nil, false)
	start := time.Now()
	out, code := runBin(t, bin, []string{"--policy", "/nonexistent"}, st, nil)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	t.Logf("no-userns invocation: %s", time.Since(start))
}

// A runtime that never closes stdin must not hang the hook: its own
// deadline (2 s before the policy is read) ends it before the hooks.d
// timeout, with a line that says where it was.
func TestExecNeverHangs(t *testing.T) {
	bin := buildHook(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	start := time.Now()
	out, code := runBin(t, bin, nil, "", r)
	took := time.Since(start)
	want := "crio-userns-hook: -/-/-: timed out after 2s while reading the OCI state on stdin; find what blocks the hook (registry lock, /proc, the rootfs, the audit log) or raise timeout in the policy, below the hooks.d timeout"
	if code != 1 || firstLine(out) != want {
		t.Fatalf("exit %d after %s, first line:\n got: %s\nwant: %s", code, took, firstLine(out), want)
	}
	if took > 3*time.Second {
		t.Fatalf("took %s", took)
	}
}

func TestExecAuditMode(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "mode = \"audit\"\n")
	pid := userns(t, m(0, 200000, 65536), m(0, 200000, 65536))
	out, code := runBin(t, bin, e.args(), e.bundle(t, "a", "web", pid, m(0, 200000, 65535), m(0, 200000, 65536), true), nil)
	if code != 0 || strings.HasPrefix(out, "crio-userns-hook:") || !strings.Contains(out, `"action":"audit"`) {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestExecValidate(t *testing.T) {
	bin := buildHook(t)
	e := newEnv(t, "")
	e.bundle(t, "a", "web", 1, m(0, 0, 65536), m(0, 200000, 65536), true)
	cmd := exec.Command(bin, "validate", "--bundle", filepath.Join(e.dir, "a"), "--policy", e.policy)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("validate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"container: proj/web/app",
		"check 1 structure          ok",
		"check 2 host-root          FAIL uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0",
		"check 5 live-maps          skipped: no container process offline",
		"result:    2 error(s), 0 warning(s); the hook would refuse this container",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// The real binary, as runc runs it, against hostile inputs: each run ends
// before the hooks.d timeout with the verdict as the first stderr line.
func TestExecHostileInputs(t *testing.T) {
	bin := buildHook(t)
	for _, tc := range []struct {
		name     string
		policy   string // extra policy lines
		setup    func(t *testing.T, e env) (args []string)
		uid      []rspec.LinuxIDMapping
		wantCode int
		want     string // first line prefix, after "crio-userns-hook: proj/web/app: "
	}{
		{name: "audit log a FIFO nobody reads", setup: func(t *testing.T, e env) []string {
			fifo := filepath.Join(e.dir, "audit.fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--policy", e.withPolicy(t, fmt.Sprintf("audit_log = %q\n", fifo))}
		}, wantCode: 1, want: "audit_log DIR/audit.fifo: not a regular file (a FIFO)"},
		{name: "audit mode, host root, audit log a FIFO with a reader", setup: func(t *testing.T, e env) []string {
			fifo := filepath.Join(e.dir, "audit.fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return []string{"--policy", e.withPolicy(t, fmt.Sprintf("mode = \"audit\"\naudit_log = %q\n", fifo))}
		}, uid: m(0, 0, 65536), wantCode: 1, want: "audit_log DIR/audit.fifo: not a regular file (a FIFO)"},
		{name: "policy is /dev/zero", setup: func(t *testing.T, e env) []string {
			return []string{"--policy", "/dev/zero"}
		}, wantCode: 1, want: "policy /dev/zero: not a regular file (a character device)"},
		{name: "policy is a sparse 64 GiB file", setup: func(t *testing.T, e env) []string {
			p := e.withPolicy(t, "")
			if err := os.Truncate(p, 64<<30); err != nil {
				t.Fatal(err)
			}
			return []string{"--policy", p}
		}, wantCode: 1, want: "policy DIR/policy2.toml: larger than 1048576 bytes"},
		{name: "subuid file is a FIFO with a writer that never writes", setup: func(t *testing.T, e env) []string {
			fifo := filepath.Join(e.dir, "subuid")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			return []string{"--policy", e.withPolicy(t, fmt.Sprintf("subuid_file = %q\n", fifo))}
		}, wantCode: 1, want: "policy: DIR/subuid: not a regular file (a FIFO)"},
		{name: "registry lock held by another process", setup: func(t *testing.T, e env) []string {
			os.MkdirAll(e.regDir, 0o700)
			holder := exec.Command("flock", filepath.Join(e.regDir, "lock"), "sleep", "30")
			if err := holder.Start(); err != nil {
				t.Skipf("flock(1): %v", err)
			}
			t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
			time.Sleep(200 * time.Millisecond)
			return []string{"--policy", e.withPolicy(t, "timeout = \"500ms\"\n")}
		}, wantCode: 1, want: "timed out after 500ms while checking other pods' user namespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			pid := userns(t, m(0, 200000, 65536), m(0, 200000, 65536))
			uid := m(0, 200000, 65536)
			if tc.uid != nil {
				uid = tc.uid
				pid = userns(t, uid, m(0, 200000, 65536))
			}
			args := append([]string{"--log-format", "json"}, tc.setup(t, e)...)
			start := time.Now()
			out, code := runBin(t, bin, args, e.bundle(t, "a", "web", pid, uid, m(0, 200000, 65536), true), nil)
			took := time.Since(start)
			want := "crio-userns-hook: proj/web/app: " + strings.ReplaceAll(tc.want, "DIR", e.dir)
			if code != tc.wantCode || !strings.HasPrefix(firstLine(out), want) {
				t.Fatalf("exit %d after %s, first line:\n got: %s\nwant: %s...", code, took, firstLine(out), want)
			}
		})
	}
}

// withPolicy writes a second policy file: the env's plus extra lines.
func (e env) withPolicy(t *testing.T, extra string) string {
	base, err := os.ReadFile(e.policy)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(extra, "audit_log") {
		base = bytes.ReplaceAll(base, []byte("audit_log = \"none\"\n"), nil)
	}
	p := filepath.Join(e.dir, "policy2.toml")
	if err := os.WriteFile(p, append(base, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
