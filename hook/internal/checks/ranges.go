package checks

import (
	"fmt"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Allowed is the policy's view of the host IDs one side may use.
type Allowed struct {
	Ranges []idmap.Range // merged
	Source string        // where Ranges came from, for messages
	// RootRange, when set, is where a single-ID root extent may point too.
	RootRange *idmap.Range
	// PolicyKey is the policy key that widens Ranges ("allowed_uids").
	PolicyKey string
}

// IsSingleRoot reports whether m is a single-ID root extent ("0 H 1"), the
// shape of CRI-O's map-to-root, which points container root at the pod's
// runAsUser (on OpenShift, the first ID of the project's range).
func IsSingleRoot(m rspec.LinuxIDMapping) bool { return m.ContainerID == 0 && m.Size == 1 }

// CheckAllowedRanges is check 3: every host extent lies inside the allowed
// ranges, or, for a single-ID root extent, inside the project root range.
func CheckAllowedRanges(k Kind, maps []rspec.LinuxIDMapping, a Allowed) []Finding {
	var out []Finding
	for i, m := range maps {
		if m.Size == 0 {
			continue // check 1's business
		}
		hr := idmap.HostRange(m)
		if IsSingleRoot(m) && a.RootRange != nil && a.RootRange.Contains(m.HostID) {
			continue
		}
		gaps := idmap.Uncovered(a.Ranges, hr)
		if len(gaps) == 0 {
			continue
		}
		var allowed strings.Builder
		fmt.Fprintf(&allowed, "%s from %s", idmap.FormatRanges(a.Ranges), a.Source)
		if a.RootRange != nil {
			fmt.Fprintf(&allowed, "; single-ID root extents also %s", a.RootRange)
		}
		out = append(out, Finding{
			Check: AllowedRanges, Map: k.Map, Extent: idmap.ExtentString(m),
			Reason: fmt.Sprintf("%s extent #%d (%s) uses host %ss %s outside the allowed ranges (%s)",
				k.Map, i+1, idmap.ExtentString(m), k.ID, idmap.FormatRanges(gaps), allowed.String()),
			Fix: fmt.Sprintf(`allocate host IDs from the allowed ranges (userns-mode "auto" takes them from the subid file) or add the range to %s in the policy`, a.PolicyKey),
		})
	}
	return out
}
