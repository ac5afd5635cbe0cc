package checks

import (
	"reflect"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWritableCgroupMounts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		m        rspec.Mount
		writable bool
	}{
		{"CRI-O's default, read-only", rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}, false},
		{"cgroup2-mount-hierarchy-rw", rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "rw"}}, true},
		{"privileged: rw, rslave", rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "rw", "relatime", "rslave"}}, true},
		{"cgroup2, no option: read-write", rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup2"}, true},
		{"last of ro and rw wins", rspec.Mount{Destination: "/x", Type: "cgroup2", Options: []string{"rw", "ro"}}, false},
		{"bind of the host's tree", rspec.Mount{Destination: "/host/cgroup", Type: "bind", Source: "/sys/fs/cgroup", Options: []string{"rbind", "rw"}}, true},
		{"bind of a cgroup below it, by option", rspec.Mount{Destination: "/c", Source: "/sys/fs/cgroup/kubepods//x/../y", Options: []string{"rbind"}}, true},
		{"read-only bind", rspec.Mount{Destination: "/c", Type: "bind", Source: "/sys/fs/cgroup", Options: []string{"rbind", "ro"}}, false},
		{"bind of something else", rspec.Mount{Destination: "/sys/fs/cgroup", Type: "bind", Source: "/sys/fs/cgroupx", Options: []string{"rbind", "rw"}}, false},
		{"sysfs", rspec.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"rw"}}, false},
	} {
		got := len(WritableCgroupMounts([]rspec.Mount{tc.m})) == 1
		if got != tc.writable {
			t.Errorf("%s: writable %v, want %v", tc.name, got, tc.writable)
		}
	}
}

func TestCheckWritableCgroup(t *testing.T) {
	rw := []rspec.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "rw"}}}
	ro := []rspec.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "ro"}}}
	const fix = `run the pod in a user namespace of its own that maps no host root (hostUsers: false, or userns-mode "auto"), or drop the io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw annotation (cgroup2-mount-hierarchy-rw.crio.io) or the read-write cgroup mount`
	for _, tc := range []struct {
		name       string
		mounts     []rspec.Mount
		hostUserns bool
		sysAdmin   bool
		uids, gids []rspec.LinuxIDMapping
		want       []string
	}{
		{name: "read-only in the host user namespace", mounts: ro, hostUserns: true},
		{name: "writable in the host user namespace", mounts: rw, hostUserns: true,
			want: []string{"cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,rw) in the host's user namespace, where the container's root is host root"}},
		{name: "writable, privileged (CAP_SYS_ADMIN in the host's namespace)", mounts: rw, hostUserns: true, sysAdmin: true},
		{name: "writable in a user namespace of its own", mounts: rw, uids: mp(0, 200000, 65536), gids: mp(0, 200000, 65536)},
		{name: "writable in a user namespace mapping host root", mounts: rw, sysAdmin: true, uids: mp(0, 0, 65536), gids: mp(0, 200000, 65536),
			want: []string{"cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,rw) in a user namespace whose uid_map extent #1 (0 0 65536) maps host UID 0 (root)"}},
		{name: "host GID 0 too", mounts: rw, uids: mp(0, 200000, 65536), gids: mp(0, 200000, 65536, 65536, 0, 1),
			want: []string{"cgroup file system mounted writable at /sys/fs/cgroup (cgroup, nosuid,rw) in a user namespace whose gid_map extent #2 (65536 0 1) maps host GID 0 (root)"}},
	} {
		got := CheckWritableCgroup(tc.mounts, tc.hostUserns, tc.sysAdmin, tc.uids, tc.gids)
		if !reflect.DeepEqual(reasons(got), tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, reasons(got), tc.want)
		}
		for _, f := range got {
			if f.Fix != fix || f.Check != WritableCgroup || f.Severity != Error {
				t.Errorf("%s: %+v", tc.name, f)
			}
		}
	}
	if !hasCap([]string{"CAP_CHOWN", "cap_sys_admin"}, "SYS_ADMIN") || hasCap([]string{"CAP_SYS_ADMINX"}, "SYS_ADMIN") {
		t.Error("hasCap")
	}
}
