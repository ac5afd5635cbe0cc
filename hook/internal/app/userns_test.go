package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/testenv"
)

// podProcess starts a process in a new user and network namespace, as a
// pod's pinned namespaces are, and returns its pid.
func podProcess(t *testing.T) int {
	t.Helper()
	testenv.RequireRoot(t)
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
	}
	mustT(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func boolp(b bool) *bool { return &b }

const (
	fixCgroup = `run the pod in a user namespace of its own that maps no host root (hostUsers: false, or userns-mode "auto"), or drop the io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw annotation (cgroup2-mount-hierarchy-rw.crio.io) or the read-write cgroup mount`
	fixPodNS  = "delete and recreate the pod: its containers must share the pod's user namespace (CRI-O loses it for containers created after a restart without its sandbox's user namespace; see crio-userns-hook(8))"
)

var rwCgroup = rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "rw"}}

// Containers in the host's user namespace: judged by the kernel's answer,
// not config.json's, and only by the checks that concern them.
func TestHostUsernsContainers(t *testing.T) {
	hostNS, err := nsfs.Stat("/proc/self/ns/user")
	mustT(t, err)
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, f *fixture)
		wantCode int
		wantLine string // "" silent pass, "LOG" records only
		wantLog  string
	}{
		{name: "plain container passes silently", setup: func(t *testing.T, f *fixture) {}},
		{name: "host network namespace passes", setup: func(t *testing.T, f *fixture) {
			f.spec.Linux.Namespaces[1].Path = "/proc/self/ns/net"
		}},
		{name: "config.json without a user namespace, process in one: its live maps are judged", setup: func(t *testing.T, f *fixture) {
			f.processUserns = boolp(true)
			f.liveUID, f.liveGID = "0 0 65536\n", "0 200000 65536\n"
		}, wantCode: 1, wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot},
		{name: "writable cgroup in the host's user namespace", setup: func(t *testing.T, f *fixture) {
			f.spec.Mounts = append(f.spec.Mounts, rwCgroup)
		}, wantCode: 1, wantLine: pfx + "cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,noexec,nodev,relatime,rw) in the host's user namespace, where the container's root is host root; " + fixCgroup},
		{name: "writable cgroup refused with a broken policy too", setup: func(t *testing.T, f *fixture) {
			f.policy = "mode = broken"
			f.spec.Mounts = append(f.spec.Mounts, rwCgroup)
		}, wantCode: 1, wantLine: pfx + "cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,noexec,nodev,relatime,rw) in the host's user namespace, where the container's root is host root; " + fixCgroup,
			wantLog: "policy unusable, enforce mode assumed: policy DIR/policy.toml: line 1: mode: want a string"},
		{name: "writable cgroup in audit mode is logged", setup: func(t *testing.T, f *fixture) {
			f.policy += "mode = \"audit\"\n"
			f.spec.Mounts = append(f.spec.Mounts, rwCgroup)
		}, wantCode: 0, wantLine: "LOG", wantLog: "action=audit check=writable-cgroup"},
		{name: "writable cgroup of a privileged container passes", setup: func(t *testing.T, f *fixture) {
			f.spec.Mounts = append(f.spec.Mounts, rwCgroup)
			f.spec.Process.Capabilities = &rspec.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}}
		}},
		{name: "a broken policy does not refuse a container without findings", setup: func(t *testing.T, f *fixture) {
			f.policy = "mode = broken"
		}},
		{name: "pod's network namespace owned by a user namespace: container refused", setup: func(t *testing.T, f *fixture) {
			f.spec.Linux.Namespaces[1].Path = fmt.Sprintf("/proc/%d/ns/net", podProcess(t))
		}, wantCode: 1, wantLine: pfx + "container runs in the host's user namespace, but its pod's network namespace (NETNS) belongs to user namespace PODNS; " + fixPodNS},
		{name: "pod already registered in a user namespace: container refused", setup: func(t *testing.T, f *fixture) {
			f.register("proj", "web", "first", 5000, true, uidMaps(0, 300000, 65536), uidMaps(0, 300000, 65536))
		}, wantCode: 1, wantLine: pfx + "container runs in the host's user namespace, but its pod proj/web already runs containers in user namespace REGNS (container first); " + fixPodNS},
		{name: "pod registered in a namespace that is gone: passes", setup: func(t *testing.T, f *fixture) {
			f.register("proj", "web", "first", 5000, false, uidMaps(0, 300000, 65536), uidMaps(0, 300000, 65536))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.noUserns()
			tc.setup(t, f)
			code, stderr := f.run()
			r := strings.NewReplacer("DIR", f.dir)
			if p := f.spec.Linux.Namespaces[1].Path; strings.HasPrefix(p, "/proc/") && p != "/proc/self/ns/net" {
				owner, err := nsfs.Owner(p)
				mustT(t, err)
				r = strings.NewReplacer("DIR", f.dir, "NETNS", p, "PODNS", owner.String())
			}
			if entries, _ := readRegistry(f.regDir); len(entries) == 1 {
				r = strings.NewReplacer("DIR", f.dir, "REGNS", entries[0].NS.String())
			}
			want := r.Replace(tc.wantLine)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			switch want {
			case "":
				if stderr != "" {
					t.Errorf("a pass must be silent; stderr:\n%s", stderr)
				}
			case "LOG":
				if strings.HasPrefix(stderr, "crio-userns-hook: ") {
					t.Errorf("no verdict line expected; stderr:\n%s", stderr)
				}
			default:
				if got := firstLine(stderr); got != want {
					t.Errorf("first stderr line:\n got: %s\nwant: %s", got, want)
				}
			}
			if l := r.Replace(tc.wantLog); l != "" && !strings.Contains(stderr, l) {
				t.Errorf("stderr lacks %q:\n%s", l, stderr)
			}
		})
	}
	_ = hostNS
}

// Containers with a user namespace: in their pod's, compared by the
// namespace's inode, not by the sandbox annotation.
func TestPodUsernsOfUsernsContainers(t *testing.T) {
	t.Run("container in its pod's user namespace passes", func(t *testing.T) {
		f := newFixture(t)
		pid := podProcess(t)
		f.spec.Linux.Namespaces[1].Path = fmt.Sprintf("/proc/%d/ns/net", pid)
		f.afterWrite = func() {
			ns := filepath.Join(f.procRoot, "4242", "ns", "user")
			mustT(t, os.Remove(ns))
			mustT(t, os.Symlink(fmt.Sprintf("/proc/%d/ns/user", pid), ns))
		}
		if code, stderr := f.run(); code != 0 || stderr != "" {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
	})
	t.Run("container in a user namespace that is not its pod's", func(t *testing.T) {
		f := newFixture(t)
		pid := podProcess(t)
		f.spec.Linux.Namespaces[1].Path = fmt.Sprintf("/proc/%d/ns/net", pid)
		code, stderr := f.run()
		owner, _ := nsfs.Owner(f.spec.Linux.Namespaces[1].Path)
		mine, _ := nsfs.Stat(filepath.Join(f.procRoot, "4242", "ns", "user"))
		want := fmt.Sprintf("%scontainer runs in user namespace %s, but its pod's network namespace (/proc/%d/ns/net) belongs to user namespace %s; %s", pfx, mine, pid, owner, fixPodNS)
		if code != 1 || firstLine(stderr) != want {
			t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
		}
	})
	t.Run("same sandbox annotation, another user namespace: no longer one pod", func(t *testing.T) {
		f := newFixture(t)
		// Another live namespace under the fixture's own sandbox ID, with
		// overlapping host IDs: the old same-pod test took the annotation's
		// word and let both share the range.
		f.register("proj", "web", "first", 5000, true, uidMaps(0, 230000, 65536), uidMaps(0, 230000, 65536))
		code, stderr := f.run()
		want := pfx + "host UIDs 230000-265535 of uid_map extent #1 (0 200000 65536) are already used by pod proj/web (container first, extent 0 230000 65536); " + fixCrossPod
		if code != 1 || firstLine(stderr) != want {
			t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
		}
		if !strings.Contains(stderr, "check=pod-user-namespace") {
			t.Errorf("the pod's other namespace is not reported:\n%s", stderr)
		}
	})
	t.Run("writable cgroup in a user namespace that maps host root", func(t *testing.T) {
		f := newFixture(t)
		f.policy = strings.Replace(f.policy, "allowed_uids = [\"200000-268635455\"]", "allowed_uids = [\"0-268635455\"]", 1) + "allow_host_root = true\n"
		f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		f.spec.Mounts = append(f.spec.Mounts, rwCgroup)
		code, stderr := f.run()
		want := pfx + "cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,noexec,nodev,relatime,rw) in a user namespace whose uid_map extent #1 (0 0 65536) maps host UID 0 (root); " + fixCgroup
		if code != 1 || firstLine(stderr) != want {
			t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
		}
	})
}
