package e2e

import (
	"context"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio-userns/crio-userns/internal/cri"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// A node is started only once CRI-O reports its pod network ready, as the
// kubelet waits before it starts pods: a RunPodSandbox that arrives earlier
// waits inside CRI-O for the CNI plugin, and CRI-O before 1.36 then never
// finishes a SIGTERM (its CNI manager's Shutdown, called twice, blocks on
// that waiter's full channel), which a pod started right after a restart
// would show.
func TestNodeStartWaitsForPodNetwork(t *testing.T) {
	n := nodeFor(t, patched)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Restart(ctx, sigterm); err != nil {
		t.Fatal(err)
	}
	client, err := cri.Dial(n.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	st, err := client.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, c := range st.GetStatus().GetConditions() {
		if c.GetType() == runtimeapi.NetworkReady {
			ready = c.GetStatus()
		}
	}
	if !ready {
		t.Fatalf("the node started with its pod network not ready: %v", st.GetStatus().GetConditions())
	}
	res := run(t, n, scenarios.Example("000-fedora-map-to-root.yaml"), podrun.Options{SCC: podrun.SCCRestricted})
	requireRunning(t, res, onlyContainer(t, res))
	if err := n.Restart(ctx, sigterm); err != nil {
		t.Fatalf("a SIGTERM after a pod started right after the node: %v", err)
	}
	assertIdle(t, n)
}
