package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// Map-to-root without a pod-level runAsUser: first containers that are
// refused leave the pod's user namespace pending, so the container that
// finally runs decides its root. Refused: a runAsUser below
// minimum_mappable_uid (contrib's drop-in sets 65536), one inside the
// "containers" subordinate range outside the pod's own range (where other
// pods' ranges are), and one that CreateContainer rejects after the
// runAsUser checks (a missing seccomp profile).
func TestFirstContainerRefusalsLeaveThePodPending(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-rejected-first-containers.yaml"), podrun.Options{SCC: podrun.SCCNone})
	if len(res.Containers) != 4 || res.SandboxID == "" {
		t.Fatalf("want a sandbox and 4 container results:\n%s", text(res))
	}
	for _, tc := range []struct {
		c    *podrun.ContainerResult
		want []string
	}{
		{res.Containers[0], []string{`pod "test/rejected-first-containers"`, `container "below-minimum"`, "UID range (1000-1000)", "below minimum mappable UID 65536"}},
		{res.Containers[1], []string{`container "other-pods-range"`, "host UID 268000000", "subordinate UID range 200000-268635455", "outside the pod's own range"}},
		{res.Containers[2], []string{"crio-userns-e2e-missing.json"}},
	} {
		if tc.c.Created {
			t.Errorf("container %s was created", tc.c.Name)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(tc.c.CreateError, want) {
				t.Errorf("container %s: CreateContainer error lacks %q:\n%s", tc.c.Name, want, tc.c.CreateError)
			}
		}
	}
	valid := res.Containers[3]
	if !valid.Created || !valid.Started {
		t.Fatalf("the valid container did not run after the refused ones:\n%s", text(res))
	}
	if !valid.HasUIDMapping(0, projectRoot, 1) {
		t.Errorf("uid_map %s lacks [0 %d 1]: a refused container decided the pod's root", mapString(valid.UIDMapSeen()), projectRoot)
	}
	for _, m := range valid.UIDMapSeen() {
		if m[0] == 0 && m[1] != projectRoot {
			t.Errorf("uid_map %s maps root to host %d", mapString(valid.UIDMapSeen()), m[1])
		}
	}
	assertIdle(t, n)
}

// A map-to-root pod without a pod-level runAsUser that needs an infra
// container (here a shared PID namespace) cannot wait for its first
// container: CRI-O runs it as upstream does and logs why, instead of
// refusing it. (On the host bench the infra container itself then fails to
// lower its oom_score_adj, a limit of this VM; on a node that runs infra
// containers the pod runs, and containers whose runAsUser its namespace
// cannot map are refused with a clear message: see the series' unit tests.)
func TestMapToRootFallsBackForPodsThatNeedAnInfraProcess(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-shared-pid-no-runasuser.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	if strings.Contains(res.SandboxError, "set spec.securityContext.runAsUser of the pod") {
		t.Fatalf("RunPodSandbox refused the pod instead of falling back: %s", res.SandboxError)
	}
	// The host bench cannot start an infra process (no CAP_SYS_RESOURCE for
	// its oom_score_adj); the guest node can, and there the pod must go as
	// far as it goes upstream: the sandbox runs, and the container, whose
	// runAsUser upstream's mappings do not map, is refused with the reason.
	if onGuest() {
		if res.SandboxError != "" {
			t.Fatalf("RunPodSandbox: %s", res.SandboxError)
		}
		c := onlyContainer(t, res)
		for _, want := range []string{"runs as UID 1000650000, which the pod's user namespace does not map", "the pod shares its PID namespace", "set spec.securityContext.runAsUser of the pod"} {
			if !strings.Contains(c.CreateError, want) {
				t.Errorf("CreateContainer error lacks %q:\n%s", want, text(res))
			}
		}
	} else if res.SandboxError != "" && !strings.Contains(res.SandboxError, "oom_score_adj") {
		t.Fatalf("RunPodSandbox: %s", res.SandboxError)
	}
	log, err := n.CrioLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "level=warning") && strings.Contains(line, "reason=UsernsMappingsNotDeferred") &&
			strings.Contains(line, "Pod test/"+res.Pod+":") && strings.Contains(line, "the pod shares its PID namespace") {
			found = true
		}
	}
	if !found {
		t.Errorf("crio logged no UsernsMappingsNotDeferred warning for pod %s", res.Pod)
	}
	assertIdle(t, n)
	if !onGuest() {
		return
	}

	// A container that upstream's mappings do map runs as it does upstream:
	// root of the pod is the start of its auto range, never host root.
	res = run(t, n, scenarios.Path("000-shared-pid-root.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if base, ok := singleBlock(c, 65536); !ok {
		t.Errorf("shared-PID pod running as root: uid_map %s, want upstream's single auto block 0 BASE 65536", mapString(c.UIDMapSeen()))
	} else {
		t.Logf("shared-PID pod's root is host UID %d (start of its auto range)", base)
	}
	assertIdle(t, n)
}
