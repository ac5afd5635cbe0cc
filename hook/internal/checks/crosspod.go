package checks

import (
	"fmt"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Overlap is one host range this container shares with another pod's user
// namespace, as found by the registry (hook/internal/registry).
type Overlap struct {
	Map        string // "uid_map" or "gid_map"
	MineIndex  int
	Mine       string // extent, /proc order
	Theirs     string
	Shared     idmap.Range
	OtherPod   string // "namespace/name"
	OtherCtr   string // container name
	OtherCtrID string
}

// CheckCrossPod is check 7: no host ID of this container's maps belongs to
// another pod's user namespace (apart from the single-ID root extents pods
// of one project share, which the registry does not report). Two pods that
// share host IDs can signal, ptrace and read each other's files as those
// IDs: user namespaces only isolate pods whose host ranges are disjoint.
func CheckCrossPod(overlaps []Overlap) []Finding {
	out := make([]Finding, 0, len(overlaps))
	for _, o := range overlaps {
		k := "UID"
		if o.Map == GID.Map {
			k = "GID"
		}
		out = append(out, Finding{
			Check: CrossPod, Map: o.Map, Extent: o.Mine,
			Reason: fmt.Sprintf("host %ss %s of %s extent #%d (%s) are already used by pod %s (container %s, extent %s)",
				k, o.Shared, o.Map, o.MineIndex+1, o.Mine, Printable(o.OtherPod), Printable(o.OtherCtr), o.Theirs),
			Fix: `give each pod its own host range (userns-mode "auto", or a "private:" mapping disjoint from other pods), or delete the other pod`,
		})
	}
	return out
}

func runCrossPod(in *Input) Result {
	r := in.Registry
	return Result{
		Findings: CheckCrossPod(r.Overlaps),
		Note:     fmt.Sprintf("%d running containers registered in %s", r.Entries, r.Dir),
	}
}
