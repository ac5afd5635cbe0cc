package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio-userns/crio-userns/internal/cri"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
	"github.com/crio-userns/crio-userns/test/vm"
)

// The workload this project exists for: a systemd image under the restricted
// SCC, map-to-root, no runAsUser anywhere. It needs cgroup v2 (systemd 257
// has no cgroup v1 support), so it runs on the guest node only.

// systemdUsers are the image's services' accounts with their Debian UIDs.
var systemdUsers = map[string]int64{"nobody": 65534, "daemon": 1}

// systemdNode returns the guest's node of flavour f with the systemd image
// in its store.
func systemdNode(t *testing.T, f flavour) target {
	t.Helper()
	if !onGuest() {
		t.Skip("systemd 257 needs cgroup v2: this test runs on the guest node (make e2e-vm)")
	}
	n := nodeFor(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	img, err := images.BuildSystemd(ctx, images.DefaultSystemdSpec(vm.Suite, vm.DebianMirror()), e2eDir("images"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.(guestNode).LoadImages(ctx, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd image %s in the node's store (%v)", img.Digest, time.Since(start).Round(time.Millisecond))
	return n
}

func TestSystemdRunsUnderRestricted(t *testing.T) {
	n := systemdNode(t, patched)
	res := run(t, n, scenarios.Path("systemd-restricted.yaml"), podrun.Options{
		SCC: podrun.SCCRestricted, Ready: "$^", Settle: time.Second, Timeout: 8 * time.Minute, Keep: true,
		Exec: images.SystemdBootedCmd,
	})
	c := onlyContainer(t, res)
	defer removeKept(t, n, res)
	requireRunning(t, res, c)
	if c.Exec == nil || c.Exec.Error != "" {
		t.Fatalf("systemctl is-system-running: %+v", c.Exec)
	}
	state := strings.TrimSpace(c.Exec.Stdout)
	t.Logf("systemd in a restricted user-namespaced pod: %q %.1fs after RunPodSandbox", state, c.Exec.Done.Seconds())
	if state != "running" {
		t.Errorf("systemctl is-system-running = %q, want running; failed units:\n%s", state, execIn(t, n, c.ID, "systemctl", "--failed", "--no-legend", "--plain"))
	}
	if !c.HasUIDMapping(0, projectRoot, 1) {
		t.Fatalf("uid_map %s lacks [0 %d 1]", mapString(c.UIDMapSeen()), projectRoot)
	}
	if len(c.Processes) == 0 || c.Processes[0].HostUID != projectRoot || !strings.Contains(c.Processes[0].Cmd, "init") {
		t.Errorf("PID 1 of the pod: %+v, want systemd on host UID %d", c.Processes, projectRoot)
	}
	for user, uid := range systemdUsers {
		want, ok := hostID(c.UIDMapSeen(), uid)
		if !ok || want == projectRoot || want < autoRangeStart {
			t.Errorf("%s (uid %d) maps to host %d (%v), want the pod's own range", user, uid, want, ok)
			continue
		}
		found := false
		for _, p := range c.Processes {
			found = found || (p.HostUID == want && strings.Contains(p.Cmd, "sleep infinity"))
		}
		if !found {
			t.Errorf("no service runs as %s (host UID %d); processes:\n%+v", user, want, c.Processes)
		}
	}
}

func TestPristineSystemdFailsUnderRestricted(t *testing.T) {
	n := systemdNode(t, pristine)
	res := run(t, n, scenarios.Path("systemd-restricted.yaml"), podrun.Options{SCC: podrun.SCCRestricted, Ready: "$^"})
	c := onlyContainer(t, res)
	if want := unmappedUIDErrs[n.Runtimes()[0]]; c.Created || !strings.Contains(c.CreateError, want) {
		t.Errorf("CreateContainer: created=%v error %q, want it to contain %q", c.Created, c.CreateError, want)
	}
	assertIdle(t, n)
}

// execIn runs a command in a running container and returns its output.
func execIn(t *testing.T, n target, id string, cmd ...string) string {
	t.Helper()
	client, err := cri.Dial(n.Socket())
	if err != nil {
		return err.Error()
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := client.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 50})
	if err != nil {
		return err.Error()
	}
	return string(resp.GetStdout()) + string(resp.GetStderr())
}

// removeKept removes a pod run with Keep and checks the node is idle.
func removeKept(t *testing.T, n target, res *podrun.Result) {
	t.Helper()
	if res.LogDirectory != "" {
		defer os.RemoveAll(res.LogDirectory)
	}
	if res.SandboxID == "" {
		return
	}
	client, err := cri.Dial(n.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := client.StopAndRemovePod(ctx, res.SandboxID); err != nil {
		t.Error(err)
	}
	assertIdle(t, n)
}
