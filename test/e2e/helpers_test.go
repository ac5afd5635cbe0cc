package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/podrun"
	corev1 "k8s.io/api/core/v1"
)

// run admits and runs manifest on n under scc, failing the test only for
// harness faults; the pod's own failures are in the result.
func run(t testing.TB, n target, manifest string, opts podrun.Options) *podrun.Result {
	t.Helper()
	pod, err := podrun.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return runPod(t, n, pod, manifest, opts)
}

// runPod is run for a pod built by the test; name labels it in the log.
// The node decides where the pod's logs go and how its processes are read:
// a guest node's conmon cannot write to a directory only the host has.
func runPod(t testing.TB, n target, pod *corev1.Pod, name string, opts podrun.Options) *podrun.Result {
	t.Helper()
	opts.Socket = n.Socket()
	opts.Proc = n.Proc()
	opts.LogRoot = n.LogRoot()
	if opts.Settle == 0 {
		opts.Settle = n.Settle()
	}
	if opts.Timeout == 0 {
		opts.Timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := podrun.Run(ctx, pod, opts)
	if err != nil {
		t.Fatalf("podrun %s: %v", name, err)
	}
	t.Logf("podrun %s (scc %s):\n%s", name, opts.SCC, text(res))
	return res
}

func text(res *podrun.Result) string {
	var b strings.Builder
	_ = res.WriteText(&b)
	return b.String()
}

// assertIdle fails t if the node holds anything once the test's pods are gone.
func assertIdle(t *testing.T, n target) {
	t.Helper()
	left, err := n.CheckIdle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !left.Empty() {
		t.Fatalf("after the pod was removed the node still holds:\n%s", left)
	}
}

func onlyContainer(t *testing.T, res *podrun.Result) *podrun.ContainerResult {
	t.Helper()
	if len(res.Containers) != 1 {
		t.Fatalf("want 1 container result, got %d:\n%s", len(res.Containers), text(res))
	}
	return res.Containers[0]
}

var summaryLine = regexp.MustCompile(`(?m)^SUMMARY switched=(\d)/5 .*$`)

// summary returns usernstest's SUMMARY line from a container log.
func summary(t *testing.T, c *podrun.ContainerResult) string {
	t.Helper()
	m := summaryLine.FindString(c.Log)
	if m == "" {
		t.Fatalf("container %s printed no SUMMARY line; log:\n%s", c.Name, c.Log)
	}
	return m
}

func requireRunning(t *testing.T, res *podrun.Result, c *podrun.ContainerResult) {
	t.Helper()
	if !res.OK() || !c.Created || !c.Started {
		t.Fatalf("pod did not run:\n%s", text(res))
	}
}

func mapString(m [][3]uint32) string { return fmt.Sprint(m) }

// singleBlock returns BASE when c's uid_map is the one extent "0 BASE size"
// with BASE != 0: plain auto, or what the kubelet gives a native pod.
func singleBlock(c *podrun.ContainerResult, size uint32) (uint32, bool) {
	m := c.UIDMapSeen()
	if len(m) != 1 || m[0][0] != 0 || m[0][1] == 0 || m[0][2] != size {
		return 0, false
	}
	return m[0][1], true
}

// upstreamMapToRoot reports whether c's uid_map is what upstream CRI-O makes
// of map-to-root with a pod-level runAsUser: "1 BASE 65535" + "0 root 1".
func upstreamMapToRoot(c *podrun.ContainerResult, root uint32) bool {
	m := c.UIDMapSeen()
	return len(m) == 2 && m[0][0] == 1 && m[0][2] == 65535 && c.HasUIDMapping(0, root, 1)
}
