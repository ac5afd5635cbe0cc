package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// cgroupV2 reports whether n's machine mounts the unified cgroup hierarchy
// at /sys/fs/cgroup, the only case where CRI-O honours
// cgroup2-mount-hierarchy-rw: from the node's own mount table when the node
// can read files on its machine (the guest node), else from this machine's.
func cgroupV2(t *testing.T, n any) bool {
	t.Helper()
	if r, ok := n.(interface {
		ReadFile(context.Context, string) ([]byte, error)
	}); ok {
		data, err := r.ReadFile(context.Background(), "/proc/1/mountinfo")
		if err != nil {
			t.Fatalf("reading the node's mount table: %v", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			pre, post, ok := strings.Cut(line, " - ")
			f := strings.Fields(pre)
			if ok && len(f) >= 5 && f[4] == "/sys/fs/cgroup" && strings.HasPrefix(post, "cgroup2 ") {
				return true
			}
		}
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}

// requireCgroupV2 stops a test that needs a cgroup v2 node: on the guest
// node (CRIO_USERNS_E2E_NODE=guest, make e2e-vm) it must be one, and the
// test fails if it is not; on a cgroup v1 host bench the test is skipped,
// saying why and where it runs.
func requireCgroupV2(t *testing.T, n any) {
	t.Helper()
	if cgroupV2(t, n) {
		return
	}
	if os.Getenv("CRIO_USERNS_E2E_NODE") == "guest" {
		t.Fatal("the guest node does not mount cgroup v2 at /sys/fs/cgroup")
	}
	t.Skip("needs a cgroup v2 node, where CRI-O honours cgroup2-mount-hierarchy-rw: this host bench is cgroup v1; it runs on the guest node (make e2e-vm)")
}

// A pod in the host's user namespace with a writable cgroup mount is
// refused at CreateContainer; the same pod in a user namespace of its own
// runs, with /sys/fs/cgroup writable.
func TestHookWritableCgroupNeedsUserns(t *testing.T) {
	n := nodeFor(t, withHook)
	requireCgroupV2(t, n)

	res := run(t, n, scenarios.Path("cgroup-rw-host-userns.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	if !res.Admitted || res.SandboxError != "" || c.Created {
		t.Fatalf("want a sandbox and a container refused by the hook:\n%s", text(res))
	}
	verdict := hookVerdict(t, withHook, c, res.Pod)
	want := "crio-userns-hook: " + res.Namespace + "/cgroup-rw-host-userns/usernstest: cgroup file system mounted writable at /sys/fs/cgroup (cgroup, "
	if !strings.HasPrefix(verdict, want) || !strings.Contains(verdict, "in the host's user namespace, where the container's root is host root") {
		t.Errorf("the hook's verdict is not %q...:\n%s", want, verdict)
	}
	assertIdle(t, n)

	res = run(t, n, scenarios.Path("cgroup-rw-userns.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c = onlyContainer(t, res)
	requireRunning(t, res, c)
	assertIdle(t, n)
}
