package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// restartBeforeCreate restarts crio with sig between RunPodSandbox and the
// first CreateContainer, as a crash or an upgrade of the node would.
func restartBeforeCreate(n target, sig syscall.Signal) func(context.Context, string) error {
	done := false
	return func(ctx context.Context, _ string) error {
		if done {
			return nil
		}
		done = true
		if err := n.Restart(ctx, sig); err != nil {
			return fmt.Errorf("restarting crio with %v: %w", sig, err)
		}
		return nil
	}
}

var restartSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}

// Upstream defect (cri-o issue 7568, present in v1.36.3 and, measured, in
// v1.34.0): after a restart, CreateContainer in a user-namespaced pod without
// an infra container reads /proc/0/uid_map.
func TestPristineRestartBreaksUsernsPods(t *testing.T) {
	n := nodeFor(t, pristine)
	for _, sig := range restartSignals {
		t.Run(sig.String(), func(t *testing.T) {
			res := run(t, n, scenarios.Example("000-fedora-map-to-root.yaml"),
				podrun.Options{SCC: podrun.SCCRestricted, BeforeCreate: restartBeforeCreate(n, sig)})
			c := onlyContainer(t, res)
			if want := `reading ID mappings from "/proc/0/uid_map"`; c.Created || !strings.Contains(c.CreateError, want) {
				t.Fatalf("CreateContainer after a %v restart: created=%v error %q, want it to contain %q", sig, c.Created, c.CreateError, want)
			}
			assertIdle(t, n)
		})
	}
}

// Patch 0001: the sandbox's maps come from its saved spec after a restart.
func TestRestartKeepsUsernsPodsWorking(t *testing.T) {
	n := nodeFor(t, patched)
	for _, sig := range restartSignals {
		t.Run(sig.String(), func(t *testing.T) {
			res := run(t, n, scenarios.Example("000-fedora-map-to-root.yaml"),
				podrun.Options{SCC: podrun.SCCRestricted, BeforeCreate: restartBeforeCreate(n, sig), Exec: []string{"cat", "/proc/self/uid_map"}})
			c := onlyContainer(t, res)
			requireRunning(t, res, c)
			if !c.HasUIDMapping(0, projectRoot, 1) {
				t.Errorf("uid_map %s lacks [0 %d 1]", mapString(c.UIDMap), projectRoot)
			}
			if c.Exec == nil || !strings.Contains(c.Exec.Stdout, fmt.Sprintf("0 %d          1", projectRoot)) {
				t.Errorf("in-pod uid_map: %+v", c.Exec)
			}
			assertIdle(t, n)
		})
	}
}

// Kubernetes user namespaces (hostUsers: false) after a CRI-O restart between
// RunPodSandbox and CreateContainer: pristine v1.36.3 (and v1.34.0, measured)
// has no mappings for the pod any more and creates the container in the host
// user namespace, as host root (upstream fixed it after 1.36, PR 10014, and
// backported it to the 1.33-1.35 branches after v1.34.0); the series (0001,
// that fix) keeps the kubelet's block.
func TestNativeUsernsRestartBeforeCreate(t *testing.T) {
	for _, f := range []flavour{pristine, patched} {
		t.Run(string(f), func(t *testing.T) {
			n := nodeFor(t, f)
			res := run(t, n, scenarios.Path("native-userns.yaml"),
				podrun.Options{SCC: podrun.SCCAnyUID, BeforeCreate: restartBeforeCreate(n, sigterm)})
			c := onlyContainer(t, res)
			requireRunning(t, res, c)
			hostRoot := len(c.UIDMapSeen()) == 1 && c.UIDMapSeen()[0] == [3]uint32{0, 0, 4294967295}
			switch f {
			case pristine:
				if !hostRoot {
					t.Fatalf("uid_map %s: pristine %s no longer shows the defect (host user namespace, 0 0 4294967295)", mapString(c.UIDMapSeen()), crioVersion)
				}
				t.Logf("pristine %s: the container runs in the host user namespace as host root (uid_map %s)", crioVersion, mapString(c.UIDMapSeen()))
			case patched:
				if base, ok := singleBlock(c, podrun.UsernsBlockSize); hostRoot || !ok || base < podrun.UsernsBlockSize {
					t.Fatalf("uid_map %s: want the kubelet's block 0 BASE 65536 kept across the restart", mapString(c.UIDMapSeen()))
				}
			}
			assertIdle(t, n)
		})
	}
}
