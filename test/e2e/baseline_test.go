package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// The baseline documents today's defects on pristine CRI-O: it is what the
// patch series is measured against.

const projectRoot = 1000650000 // first UID of the default uid-range, 1000650000/10000

// unmappedUIDErrs are how the runtimes refuse a process user that the
// container's uid_map does not hold (here the SCC-assigned projectRoot).
var unmappedUIDErrs = map[string]string{
	"runc": "cannot set uid to unmapped user in user namespace",
	"crun": fmt.Sprintf("cannot setresuid to `%d`: Invalid argument", projectRoot),
}

func TestPristineMapToRootWithPodRunAsUserRuns(t *testing.T) {
	n := nodeFor(t, pristine)
	for _, tc := range []struct{ manifest, want string }{
		{scenarios.Example("000-fedora-map-to-root.yaml"), ""},
		{scenarios.Path("000-usernstest-map-to-root.yaml"), "SUMMARY switched=1/5 root=ok daemon=fail operator=fail nobody=fail mail=fail"},
	} {
		res := run(t, n, tc.manifest, podrun.Options{SCC: podrun.SCCRestricted})
		c := onlyContainer(t, res)
		requireRunning(t, res, c)
		if !c.HasUIDMapping(0, projectRoot, 1) {
			t.Errorf("%s: uid_map %s lacks [0 %d 1]", tc.manifest, mapString(c.UIDMapSeen()), projectRoot)
		}
		if tc.want != "" {
			// restricted drops SETUID/SETGID: in-namespace root cannot switch users.
			if got := summary(t, c); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.manifest, got, tc.want)
			}
		}
		assertIdle(t, n)
	}
}

// Every runtime handler of the node refuses it, each in its own words.
func TestPristineMapToRootWithoutRunAsUserFails(t *testing.T) {
	n := nodeFor(t, pristine)
	for _, rt := range n.Runtimes() {
		t.Run(rt, func(t *testing.T) {
			want := unmappedUIDErrs[rt]
			for _, manifest := range []string{
				scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"),
				scenarios.Example("000-fedora-auto.yaml"),
				scenarios.Path("000-usernstest-no-runasuser.yaml"),
			} {
				res := run(t, n, manifest, podrun.Options{SCC: podrun.SCCRestricted, RuntimeHandler: rt})
				c := onlyContainer(t, res)
				if !res.Admitted || res.SandboxError != "" {
					t.Fatalf("%s: want admission and a sandbox, got:\n%s", manifest, text(res))
				}
				if c.Created || !strings.Contains(c.CreateError, want) {
					t.Errorf("%s: CreateContainer error %q, want it to contain %q", manifest, c.CreateError, want)
				}
				assertIdle(t, n)
			}
		})
	}
}

func TestRestrictedRejectsRunAsUserZero(t *testing.T) {
	pod, err := podrun.LoadManifest(scenarios.Example("000-fedora-runasuser-0.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = podrun.Admit(pod, podrun.SCCRestricted, podrun.NamespaceRanges{UIDs: podrun.DefaultUIDRange})
	want := "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("admission error = %v, want it to contain %q", err, want)
	}
}

// Field report 004: with SETUID/SETGID kept (anyuid drops only MKNOD) all five
// switches work and the host sees range base + in-namespace UID.
func TestPristineMultiUserWithAnyUID(t *testing.T) {
	n := nodeFor(t, pristine)

	res := run(t, n, scenarios.Example("004-multiuser-test.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	if got, want := summary(t, c), "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok"; got != want {
		t.Errorf("field report 004 manifest: %q, want %q", got, want)
	}

	res = run(t, n, scenarios.Path("004-usernstest-hold.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c = onlyContainer(t, res)
	requireRunning(t, res, c)
	summary(t, c)
	block, ok := singleBlock(c, 65536)
	if !ok {
		t.Fatalf("uid_map %s: want one extent 0 BASE 65536 (runAsUser 0 is container-level, so map-to-root adds nothing)", mapString(c.UIDMapSeen()))
	}
	base := int64(block)
	wantHost := map[string]int64{"root": base, "daemon": base + 2, "operator": base + 11, "nobody": base + 65534, "mail": base + 8}
	seen := map[string]bool{}
	for _, p := range c.Processes {
		f := strings.Fields(p.Cmd) // "usernstest child NAME UID:GID hold D"
		if len(f) < 3 || f[1] != "child" {
			continue
		}
		want, ok := wantHost[f[2]]
		if !ok {
			continue
		}
		seen[f[2]] = true
		if p.HostUID != want {
			t.Errorf("child %s: host uid %d, want %d (base %d + in-namespace uid)", f[2], p.HostUID, want, base)
		}
	}
	if len(seen) != len(wantHost) {
		t.Errorf("saw held children %v of %v; processes: %+v", seen, wantHost, c.Processes)
	}
	assertIdle(t, n)
}

// node-down must leave no process, mount, pinned namespace or storage
// container behind, even with a pod still running.
func TestNodeDownLeavesNothingBehind(t *testing.T) {
	n := nodeFor(t, pristine)
	res := run(t, n, scenarios.Path("004-usernstest-hold.yaml"), podrun.Options{SCC: podrun.SCCAnyUID, Keep: true})
	requireRunning(t, res, onlyContainer(t, res))
	if held, err := n.FindLeftovers(context.Background()); err != nil || len(held.PinnedNamespaces) == 0 {
		t.Fatalf("a running userns pod should pin namespaces; found none (is the check blind?) %v", err)
	}
	current.node = nil
	left, err := n.Down(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !left.Empty() {
		t.Fatalf("node-down with a running pod left:\n%s", left)
	}
	fmt.Println("node down:", left)
}
