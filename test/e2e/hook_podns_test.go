package e2e

import (
	"strings"
	"syscall"
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// hostUsernsMap is the identity map of the host's user namespace.
const hostUsernsMap = "[[0 0 4294967295]]"

// Upstream defect, present in v1.36.3: a hostUsers: false pod whose
// container is created after CRI-O restarted (between RunPodSandbox and
// CreateContainer) gets no user namespace at all: it runs in the host's,
// as host root, with no user namespace in its config.json, while its pod's
// network namespace stays in the pod's user namespace. This is the defect
// the hook's pod-user-namespace check stops (TestHookRefusesContainerOutsidePodUserns).
func TestPristineRestartLosesNativeUserns(t *testing.T) {
	n := nodeFor(t, pristine)
	res := run(t, n, scenarios.Path("native-userns.yaml"),
		podrun.Options{SCC: podrun.SCCAnyUID, BeforeCreate: restartBeforeCreate(n, syscall.SIGTERM)})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if got := mapString(c.UIDMapSeen()); got != hostUsernsMap {
		t.Errorf("uid_map %s, want the host's %s: has upstream fixed the restart?", got, hostUsernsMap)
	}
	assertIdle(t, n)
}

// On the same pristine node with the hook installed, that container is
// refused at CreateContainer: it would run outside its pod's user
// namespace, which the ownership of the pod's network namespace shows,
// whatever config.json says.
func TestHookRefusesContainerOutsidePodUserns(t *testing.T) {
	n := nodeFor(t, pristineWithHook)
	// Without the restart the pod runs: the check does not get in the way.
	res := run(t, n, scenarios.Path("native-userns.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	assertIdle(t, n)

	res = run(t, n, scenarios.Path("native-userns.yaml"),
		podrun.Options{SCC: podrun.SCCAnyUID, BeforeCreate: restartBeforeCreate(n, syscall.SIGTERM)})
	c = onlyContainer(t, res)
	if !res.Admitted || res.SandboxError != "" {
		t.Fatalf("want the sandbox up so that the hook decides:\n%s", text(res))
	}
	if c.Created {
		t.Fatalf("a container outside its pod's user namespace was created (uid_map %s):\n%s", mapString(c.UIDMapSeen()), text(res))
	}
	verdict := hookVerdict(t, pristineWithHook, c, res.Pod)
	for _, want := range []string{
		"crio-userns-hook: " + res.Namespace + "/native-userns/usernstest: container runs in the host's user namespace, but its pod's network",
		"delete and recreate the pod",
	} {
		if !strings.Contains(verdict, want) {
			t.Errorf("the hook's verdict lacks %q:\n%s", want, verdict)
		}
	}
	assertIdle(t, n)
}
