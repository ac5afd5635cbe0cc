package e2e

import (
	"slices"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

const (
	legacyUsernsMode = "io.kubernetes.cri-o.userns-mode"
	usernsModeV2     = "userns-mode.crio.io"
)

// Field report 000's pod without runAsUser, its userns-mode annotation under
// each name: a name the CRI-O line reads (1.35 and later: both; 1.34: the
// legacy one) maps the SCC's runAsUser to root of the pod's namespace; a
// name the line predates is ignored, and the pod runs in the host user
// namespace, as it would on a node whose drop-in does not allow the name.
func TestUsernsModeAnnotationNames(t *testing.T) {
	n := nodeFor(t, patched)
	pod, err := podrun.LoadManifest(scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mode := pod.Annotations[legacyUsernsMode]
	if mode == "" {
		t.Fatalf("the manifest has no %s annotation", legacyUsernsMode)
	}
	known := crioconf.UsernsModeAnnotations(crioRelease())
	for _, name := range []string{usernsModeV2, legacyUsernsMode} {
		t.Run(name, func(t *testing.T) {
			p := pod.DeepCopy()
			delete(p.Annotations, legacyUsernsMode)
			p.Annotations[name] = mode
			res := runPod(t, n, p, p.Name, podrun.Options{SCC: podrun.SCCRestricted})
			c := onlyContainer(t, res)
			requireRunning(t, res, c)
			switch {
			case slices.Contains(known, name):
				if !c.HasUIDMapping(0, projectRoot, 1) {
					t.Errorf("CRI-O %s reads %s: uid_map %s lacks [0 %d 1]", crioVersion, name, mapString(c.UIDMapSeen()), projectRoot)
				}
			default:
				if m := c.UIDMapSeen(); len(m) != 1 || m[0] != [3]uint32{0, 0, 4294967295} {
					t.Errorf("CRI-O %s predates %s: uid_map %s, want the host user namespace", crioVersion, name, mapString(m))
				}
			}
			assertIdle(t, n)
		})
	}
	if len(known) < 2 {
		return
	}
	// Both set, different sizes: CRI-O reads the new name.
	t.Run("both names", func(t *testing.T) {
		p := pod.DeepCopy()
		p.Annotations[usernsModeV2] = "auto:size=32768;map-to-root=true"
		p.Annotations[legacyUsernsMode] = "auto:size=65536;map-to-root=true"
		res := runPod(t, n, p, p.Name, podrun.Options{SCC: podrun.SCCRestricted})
		c := onlyContainer(t, res)
		requireRunning(t, res, c)
		var size uint64
		for _, m := range c.UIDMapSeen() {
			size += uint64(m[2])
		}
		if size != 32768 || !c.HasUIDMapping(0, projectRoot, 1) {
			t.Errorf("uid_map %s maps %d IDs; want %s's 32768 with [0 %d 1]", mapString(c.UIDMapSeen()), size, usernsModeV2, projectRoot)
		}
		assertIdle(t, n)
	})
}
