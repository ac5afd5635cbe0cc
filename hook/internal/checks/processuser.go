package checks

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// CheckProcessUser is check 4: process.user's uid, gid and additionalGids
// are mapped, so the container gets a reason instead of runc's bare "cannot
// set uid to unmapped user in user namespace". CRI-O translates a host
// runAsUser into the namespace only when the map covers it; otherwise it
// passes the host ID through unchanged, which is what this catches.
func CheckProcessUser(p *rspec.Process, uids, gids []rspec.LinuxIDMapping, rootRange *idmap.Range) []Finding {
	if p == nil {
		return nil
	}
	var out []Finding
	check := func(what string, k Kind, maps []rspec.LinuxIDMapping, id uint32) {
		if _, ok := idmap.ToHost(maps, id); ok {
			return
		}
		fix := fmt.Sprintf("run as a %s the %s covers (%s) or widen the mapping", k.ID, k.Map, containerRanges(maps))
		if rootRange != nil && rootRange.Contains(id) {
			// The field report's case: the SCC defaulted the container's
			// runAsUser to the project's first UID, but map-to-root only
			// looks at the pod-level one.
			runAs := "runAsUser"
			if k == GID {
				runAs = "runAsGroup"
			}
			fix = fmt.Sprintf("set the pod-level securityContext.%s to %d so that map-to-root maps it to container %s 0, or %s",
				runAs, id, k.ID, fix)
		}
		out = append(out, Finding{
			Check: ProcessUser, Map: k.Map,
			Reason: fmt.Sprintf("%s %d is not mapped in the %s (%s)", what, id, k.Map, FormatMap(maps)),
			Fix:    fix,
		})
	}
	check("process user UID", UID, uids, p.User.UID)
	check("process user GID", GID, gids, p.User.GID)
	for _, g := range p.User.AdditionalGids {
		check("additional GID", GID, gids, g)
	}
	return out
}

// mapsUnknown is why a check that needs both maps did not run: a joined
// namespace whose maps config.json does not list, judged offline.
const mapsUnknown = "config.json lists no maps of the joined user namespace; checked by the hook at container start"

func runProcessUser(in *Input) Result {
	if len(in.UIDs) == 0 || len(in.GIDs) == 0 {
		return Result{Skipped: mapsUnknown}
	}
	return Result{Findings: CheckProcessUser(in.Spec.Process, in.UIDs, in.GIDs, in.Policy.RootRange)}
}
