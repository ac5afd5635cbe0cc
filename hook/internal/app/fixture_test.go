package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
)

const fedoraPasswd = `root:x:0:0:Super User:/root:/bin/bash
daemon:x:2:2:daemon:/sbin:/usr/sbin/nologin
mail:x:8:12:mail:/var/spool/mail:/usr/sbin/nologin
operator:x:11:0:operator:/root:/usr/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin
`

const fedoraGroup = "root:x:0:\ndaemon:x:2:\nmail:x:12:\nnobody:x:65534:\n"

// fixture is one container as CRI-O would hand it to the hook: a real
// bundle directory with config.json and a rootfs, a fake /proc with the
// container process's maps, stat and namespace, a policy file and a
// registry directory, all under t.TempDir().
type fixture struct {
	t        testing.TB
	dir      string
	bundle   string
	procRoot string
	regDir   string
	auditLog string
	policy   string // file content
	spec     *rspec.Spec
	state    rspec.State
	stdin    *string // overrides the encoded state
	liveUID  string  // uid_map content; "" = FormatProcMap(spec)
	liveGID  string
	noLive   bool
	args     []string
	// written before the run
	files map[string]string
	// afterWrite, when set, runs once the fixture is on disk (to break it).
	afterWrite func()
	// processUserns, when set, says whether the container's process is in
	// a user namespace of its own, whatever config.json says.
	processUserns *bool
}

func uidMaps(ms ...uint32) []rspec.LinuxIDMapping {
	var out []rspec.LinuxIDMapping
	for i := 0; i+2 < len(ms); i += 3 {
		out = append(out, rspec.LinuxIDMapping{ContainerID: ms[i], HostID: ms[i+1], Size: ms[i+2]})
	}
	return out
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), files: map[string]string{}}
	reroot(f)
	f.spec = &rspec.Spec{
		Version: "1.3.0",
		Process: &rspec.Process{User: rspec.User{UID: 0, GID: 0}, Args: []string{"/bin/app"}},
		Root:    &rspec.Root{Path: "rootfs"},
		Annotations: map[string]string{
			"io.kubernetes.pod.namespace":   "proj",
			"io.kubernetes.pod.name":        "web",
			"io.kubernetes.pod.uid":         "uid-web",
			"io.kubernetes.container.name":  "app",
			"io.kubernetes.cri-o.SandboxID": "sb-web",
		},
		Linux: &rspec.Linux{
			Namespaces: []rspec.LinuxNamespace{
				{Type: rspec.PIDNamespace}, {Type: rspec.NetworkNamespace}, {Type: rspec.MountNamespace},
				{Type: rspec.UserNamespace},
			},
			UIDMappings: uidMaps(0, 200000, 65536),
			GIDMappings: uidMaps(0, 200000, 65536),
		},
	}
	f.state = rspec.State{Version: "1.2.0", ID: "ctr-app", Status: "creating", Pid: 4242, Bundle: f.bundle}
	f.files["bundle/rootfs/etc/passwd"] = fedoraPasswd
	f.files["bundle/rootfs/etc/group"] = fedoraGroup
	return f
}

// reroot points every path of f under f.dir.
func reroot(f *fixture) {
	f.bundle = filepath.Join(f.dir, "bundle")
	f.procRoot = filepath.Join(f.dir, "proc")
	f.regDir = filepath.Join(f.dir, "run")
	f.auditLog = filepath.Join(f.dir, "audit.log")
	// The subid files are the fixture's (absent unless a case writes
	// etc/subuid): the kubelet's range is then kubelet_default_range.
	f.policy = fmt.Sprintf("allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\nregistry_dir = %q\naudit_log = %q\nsubuid_file = %q\nsubgid_file = %q\n",
		f.regDir, f.auditLog, filepath.Join(f.dir, "etc", "subuid"), filepath.Join(f.dir, "etc", "subgid"))
	if f.state.Bundle != "" {
		f.state.Bundle = f.bundle
	}
}

// inUserns says the container's process is in a user namespace of its own:
// config.json asks for one, or a case said so (hostUserns false).
func (f *fixture) inUserns() bool {
	if f.processUserns != nil {
		return *f.processUserns
	}
	for _, ns := range f.spec.Linux.Namespaces {
		if ns.Type == rspec.UserNamespace {
			return true
		}
	}
	return false
}

func (f *fixture) noUserns() {
	f.spec.Linux.Namespaces = f.spec.Linux.Namespaces[:3]
	f.spec.Linux.UIDMappings, f.spec.Linux.GIDMappings = nil, nil
}

// fakeProc writes /proc/PID/{uid_map,gid_map,stat,ns/user} for a process;
// ns/user is a plain file whose inode stands for the namespace.
func fakeProc(t testing.TB, root string, pid int, uid, gid string, start uint64) {
	t.Helper()
	d := filepath.Join(root, strconv.Itoa(pid))
	mustT(t, os.MkdirAll(filepath.Join(d, "ns"), 0o755))
	mustT(t, os.WriteFile(filepath.Join(d, "uid_map"), []byte(uid), 0o644))
	mustT(t, os.WriteFile(filepath.Join(d, "gid_map"), []byte(gid), 0o644))
	stat := fmt.Sprintf("%d (app (x) y) S%s %d 0 0\n", pid, strings.Repeat(" 0", 18), start)
	mustT(t, os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644))
	mustT(t, os.WriteFile(filepath.Join(d, "ns", "user"), nil, 0o644))
}

func formatMap(ms []rspec.LinuxIDMapping) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%10d %10d %10d\n", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}

func mustT(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// register puts another pod's container into the registry, alive (with a
// fake process) or dead (no process).
func (f *fixture) register(ns, pod, ctr string, pid int, alive bool, uids, gids []rspec.LinuxIDMapping) {
	f.t.Helper()
	e := &registry.Entry{
		ContainerID: "id-" + ctr, PodKey: "sandbox:sb-" + pod, Namespace: ns, Pod: pod, Container: ctr,
		PID: pid, StartTime: 777, UIDMaps: uids, GIDMaps: gids,
	}
	if alive {
		fakeProc(f.t, f.procRoot, pid, formatMap(uids), formatMap(gids), 777)
		id, err := registry.Identify(f.procRoot, pid)
		mustT(f.t, err)
		e.NS = id.NS
	} else {
		e.NS = nsfs.ID{Dev: 1, Ino: 99999 + uint64(pid)}
	}
	reg := &registry.Registry{Dir: f.regDir, ProcRoot: f.procRoot}
	tx, err := reg.Begin()
	mustT(f.t, err)
	mustT(f.t, tx.Record(e, &registry.Result{}))
	mustT(f.t, tx.Close())
}

// readRegistry lists the registered namespaces' entries.
func readRegistry(dir string) ([]*registry.Entry, error) {
	reg := &registry.Registry{Dir: dir, ProcRoot: "/nonexistent"}
	tx, err := reg.Snapshot()
	if err != nil {
		return nil, err
	}
	var out []*registry.Entry
	for i := range tx.Len() {
		e, err := tx.Entry(i)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// write lays the fixture out on disk.
func (f *fixture) write() {
	t := f.t
	t.Helper()
	mustT(t, os.MkdirAll(filepath.Join(f.bundle, "rootfs"), 0o755))
	if f.spec != nil {
		data, err := json.Marshal(f.spec)
		mustT(t, err)
		mustT(t, os.WriteFile(filepath.Join(f.bundle, "config.json"), data, 0o644))
	}
	for name, content := range f.files {
		p := filepath.Join(f.dir, name)
		mustT(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mustT(t, os.WriteFile(p, []byte(content), 0o644))
	}
	pol := filepath.Join(f.dir, "policy.toml")
	mustT(t, os.WriteFile(pol, []byte(f.policy), 0o644))
	if !f.noLive && f.state.Pid > 0 && f.spec != nil && f.spec.Linux != nil {
		uid, gid := f.liveUID, f.liveGID
		if uid == "" {
			uid = formatMap(f.spec.Linux.UIDMappings)
		}
		if gid == "" {
			gid = formatMap(f.spec.Linux.GIDMappings)
		}
		fakeProc(t, f.procRoot, f.state.Pid, uid, gid, 12345)
		if !f.inUserns() {
			// The container's process is in the hook's user namespace.
			ns := filepath.Join(f.procRoot, strconv.Itoa(f.state.Pid), "ns", "user")
			mustT(t, os.Remove(ns))
			mustT(t, os.Symlink("../../self/ns/user", ns))
		}
	}
	// The hook's own user namespace: the real one, so that namespace files
	// of the host and of real test processes compare with it.
	mustT(t, os.MkdirAll(filepath.Join(f.procRoot, "self", "ns"), 0o755))
	if _, err := os.Lstat(filepath.Join(f.procRoot, "self", "ns", "user")); os.IsNotExist(err) {
		mustT(t, os.Symlink("/proc/self/ns/user", filepath.Join(f.procRoot, "self", "ns", "user")))
	}
	mustT(t, os.MkdirAll(filepath.Join(f.dir, "etc"), 0o755))
	if f.afterWrite != nil {
		f.afterWrite()
	}
}

// run invokes the hook in-process the way a runtime does and returns the
// exit status and stderr.
func (f *fixture) run() (int, string) {
	f.t.Helper()
	f.write()
	stdin := ""
	if f.stdin != nil {
		stdin = *f.stdin
	} else {
		data, err := json.Marshal(f.state)
		mustT(f.t, err)
		stdin = string(data)
	}
	args := append([]string{"--policy", filepath.Join(f.dir, "policy.toml"), "--proc-root", f.procRoot}, f.args...)
	var stdout, stderr bytes.Buffer
	code := Main(args, Options{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Version: "test"})
	if stdout.Len() > 0 {
		f.t.Errorf("hook wrote to stdout: %q", stdout.String())
	}
	return code, stderr.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
