package checks

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// CheckLiveMaps is check 5: the map the kernel has for the container's
// process equals the one config.json asks for, compared normalised (the
// kernel may list extents in another order, and split or merged extents
// translate alike). An empty spec map with a joined namespace has nothing to
// compare: the live map is then the effective one, and checks 1-4 and 6-7
// ran on it.
func CheckLiveMaps(k Kind, spec, live []rspec.LinuxIDMapping, pid int, joined bool) []Finding {
	if len(spec) == 0 && joined {
		return nil
	}
	if idmap.Equal(spec, live) {
		return nil
	}
	fix := "the OCI runtime did not apply the configured mapping: check the runtime and CRI-O's pinned namespaces, then recreate the pod"
	if joined {
		fix = "the pod's pinned user namespace has another mapping than config.json: recreate the pod"
	}
	return []Finding{{
		Check: LiveMaps, Map: k.Map,
		Reason: fmt.Sprintf("live %s of pid %d (%s) differs from config.json's %s (%s)",
			k.Map, pid, FormatMap(live), k.Spec, FormatMap(spec)),
		Fix: fix,
	}}
}

func runLiveMaps(in *Input) Result {
	if in.Live == nil {
		return Result{Skipped: "no container process offline (checked by the hook at container start)"}
	}
	var specUIDs, specGIDs []rspec.LinuxIDMapping
	if l := in.Spec.Linux; l != nil {
		specUIDs, specGIDs = l.UIDMappings, l.GIDMappings
	}
	return Result{Findings: append(CheckLiveMaps(UID, specUIDs, in.Live.UIDs, in.Live.PID, in.Joined),
		CheckLiveMaps(GID, specGIDs, in.Live.GIDs, in.Live.PID, in.Joined)...)}
}
