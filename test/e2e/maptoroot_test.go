package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// Issue 3: with patches/v1.36.3, map-to-root without a pod-level runAsUser
// maps the SCC-assigned container runAsUser (host UID 1000650000) to root of
// the pod's user namespace.

var rootLine = fmt.Sprintf("0 %d          1", projectRoot) // as the kernel prints it

// With every runtime handler of the node (runc and crun on the guest).
func TestMapToRootFallsBackToContainerRunAsUser(t *testing.T) {
	n := nodeFor(t, patched)
	for _, rt := range n.Runtimes() {
		t.Run(rt, func(t *testing.T) {
			res := run(t, n, scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"),
				podrun.Options{SCC: podrun.SCCRestricted, RuntimeHandler: rt, Exec: []string{"cat", "/proc/self/uid_map"}})
			c := onlyContainer(t, res)
			if strings.Contains(c.CreateError, "sysfs") {
				// In a user namespace the kernel mounts sysfs only while the
				// node's own /sys is fully visible; show what covers it.
				t.Logf("the node's mounts under /sys:\n%s", sysMounts(t, n))
			}
			requireRunning(t, res, c)
			if !c.HasUIDMapping(0, projectRoot, 1) {
				t.Errorf("uid_map %s lacks [0 %d 1]", mapString(c.UIDMapSeen()), projectRoot)
			}
			if c.Exec == nil || !strings.Contains(c.Exec.Stdout, rootLine) {
				t.Errorf("uid_map seen in the pod (oc rsh): %+v", c.Exec)
			}
			if len(c.Processes) == 0 || c.Processes[0].HostUID != projectRoot {
				t.Errorf("host uid of the container's init: %+v, want %d", c.Processes, projectRoot)
			}
			assertIdle(t, n)
		})
	}
}

func TestMapToRootInitAndTwoContainersShareOneNamespace(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-init-and-two-containers.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	if !res.OK() || len(res.Containers) != 3 {
		t.Fatalf("pod did not run:\n%s", text(res))
	}
	if init := res.Containers[0]; !strings.Contains(init.Log, rootLine) {
		t.Errorf("init container saw uid_map %q, want a line %q", init.Log, rootLine)
	}
	first, second := res.Containers[1], res.Containers[2]
	for _, c := range []*podrun.ContainerResult{first, second} {
		if !c.HasUIDMapping(0, projectRoot, 1) {
			t.Errorf("%s: uid_map %s lacks [0 %d 1]", c.Name, mapString(c.UIDMapSeen()), projectRoot)
		}
	}
	// Auto ranges are disjoint between pods, so equal maps mean one namespace.
	if mapString(first.UIDMap) != mapString(second.UIDMap) {
		t.Errorf("containers of one pod have different uid_maps: %s vs %s", mapString(first.UIDMap), mapString(second.UIDMap))
	}
	assertIdle(t, n)
}

func TestMapToRootSecondRunAsUserFailsClearly(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-two-runasusers.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	if len(res.Containers) != 2 {
		t.Fatalf("want 2 container results:\n%s", text(res))
	}
	first, second := res.Containers[0], res.Containers[1]
	if !first.Started || first.State != "running" || !first.HasUIDMapping(0, projectRoot, 1) {
		t.Errorf("first container: started=%v state=%s uid_map %s", first.Started, first.State, mapString(first.UIDMap))
	}
	if second.Created {
		t.Fatalf("second container with an unmappable runAsUser was created")
	}
	for _, want := range []string{`pod "test/two-runasusers"`, `"second"`, `"first"`, "1000650005", "1000650000", "spec.securityContext.runAsUser"} {
		if !strings.Contains(second.CreateError, want) {
			t.Errorf("CreateContainer error lacks %q:\n%s", want, second.CreateError)
		}
	}
	assertIdle(t, n)
}

// A pod-level runAsUser takes upstream's path: same maps and result as
// pristine. The result is pristine's only without userns_reinstate_capabilities
// (issue 4: option empty behaves as pristine); with contrib's drop-in, which
// sets it, the pod switches 5/5 (capabilities_test.go).
func TestMapToRootWithPodRunAsUserIsUpstream(t *testing.T) {
	n := nodeFor(t, patchedNoCaps)
	res := run(t, n, scenarios.Path("000-usernstest-map-to-root.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if !upstreamMapToRoot(c, projectRoot) {
		t.Errorf("uid_map %s, want upstream's [1 BASE 65535] [0 %d 1]", mapString(c.UIDMapSeen()), projectRoot)
	}
	if got, want := summary(t, c), "SUMMARY switched=1/5 root=ok daemon=fail operator=fail nobody=fail mail=fail"; got != want {
		t.Errorf("%q, want %q (as on pristine)", got, want)
	}
	assertIdle(t, n)
}

// Field report 004's manifest asks for runAsUser 0 on the container only: the
// fallback must not map host root; the pod keeps upstream's 0 BASE 65536.
func TestMapToRootNeverMapsHostRoot(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Example("004-multiuser-test.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if _, ok := singleBlock(c, 65536); !ok {
		t.Errorf("uid_map %s, want one extent 0 BASE 65536 with BASE != 0", mapString(c.UIDMapSeen()))
	}
	if got, want := summary(t, c), "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	assertIdle(t, n)
}

func TestMapToRootSurvivesRestartBeforeFirstContainer(t *testing.T) {
	n := nodeFor(t, patched)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			res := run(t, n, scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"),
				podrun.Options{SCC: podrun.SCCRestricted, BeforeCreate: restartBeforeCreate(n, sig)})
			c := onlyContainer(t, res)
			requireRunning(t, res, c)
			if !c.HasUIDMapping(0, projectRoot, 1) {
				t.Errorf("after a %v restart: uid_map %s lacks [0 %d 1]", sig, mapString(c.UIDMapSeen()), projectRoot)
			}
			assertIdle(t, n)
		})
	}
}

func TestMapToRootOwnsNetworkNamespace(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-bind-port-80.yaml"), podrun.Options{SCC: podrun.SCCRestricted, Ready: "^received: ", Settle: 15 * time.Second})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if !strings.Contains(c.Log, "received: over-port-80") {
		t.Errorf("root of the pod could not serve on port 80; log:\n%s", c.Log)
	}
	assertIdle(t, n)
}

func TestMapToRootConcurrentPodsGetDisjointRanges(t *testing.T) {
	n := nodeFor(t, patched)
	pod, err := podrun.LoadManifest(scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pods, timeout := 20, podrun.DefaultTimeout
	if onGuest() {
		// Under TCG the guest does in minutes what a node does in seconds:
		// fewer pods, still started all at once, and the time they need.
		pods, timeout = 8, 5*time.Minute
	}
	results := make([]*podrun.Result, pods)
	errs := make([]error, pods)
	var wg sync.WaitGroup
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := pod.DeepCopy()
			p.Name = fmt.Sprintf("fedora-%02d", i)
			results[i], errs[i] = podrun.Run(context.Background(), p, podrun.Options{Socket: n.Socket(), Proc: n.Proc(), LogRoot: n.LogRoot(), Settle: n.Settle(), SCC: podrun.SCCRestricted, Timeout: timeout})
		}()
	}
	wg.Wait()
	type extent struct{ first, last uint32 }
	var ranges []extent
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("pod %d: %v", i, errs[i])
		}
		c := res.Containers[0]
		if !res.OK() || !c.HasUIDMapping(0, projectRoot, 1) {
			t.Errorf("pod %d did not run with [0 %d 1]:\n%s", i, projectRoot, text(res))
			continue
		}
		for _, m := range c.UIDMapSeen() {
			if m[0] != 0 { // the shared root extent is the project's UID, by design
				ranges = append(ranges, extent{m[1], m[1] + m[2] - 1})
			}
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].first < ranges[j].first })
	for i := 1; i < len(ranges); i++ {
		if ranges[i].first <= ranges[i-1].last {
			t.Errorf("auto ranges overlap: %v and %v", ranges[i-1], ranges[i])
		}
	}
	if len(ranges) != pods {
		t.Errorf("got %d auto ranges for %d pods", len(ranges), pods)
	}
	assertIdle(t, n)
}

func TestMapToRootMapsRunAsGroupAndKeepsFSGroup(t *testing.T) {
	n := nodeFor(t, patched)
	res := run(t, n, scenarios.Path("000-runasgroup.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if !c.HasUIDMapping(0, projectRoot, 1) || !c.HasGIDMapping(0, projectRoot+7, 1) {
		t.Errorf("uid_map %s gid_map %s: want [0 %d 1] and [0 %d 1]", mapString(c.UIDMapSeen()), mapString(c.GIDMapSeen()), projectRoot, projectRoot+7)
	}
	fsGroupMapped := false
	for _, m := range c.GIDMapSeen() {
		if m[1] == projectRoot && m[2] == 1 && m[0] != 0 {
			fsGroupMapped = true
		}
	}
	if !fsGroupMapped {
		t.Errorf("gid_map %s: the fsGroup %d is no longer mapped", mapString(c.GIDMapSeen()), projectRoot)
	}
	if len(c.Processes) == 0 || c.Processes[0].HostGID != projectRoot+7 {
		t.Errorf("host gid of the container's init: %+v, want %d", c.Processes, projectRoot+7)
	}
	assertIdle(t, n)
}

// sysMounts lists the mounts of the node's init under /sys.
func sysMounts(t *testing.T, n target) string {
	data, err := n.ReadFile(context.Background(), "/proc/1/mountinfo")
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], "/sys") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
