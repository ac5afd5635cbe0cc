package checks

import (
	"fmt"
	"slices"
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
	// Kubelet, when set, is the kubelet's range: where the extents of a
	// native user namespace (Origin.Native) may lie too.
	Kubelet *KubeletAllowed
}

// KubeletAllowed is the kubelet's range for one side.
type KubeletAllowed struct {
	Ranges []idmap.Range // merged
	Source string        // where Ranges came from, for messages
}

// IsSingleRoot reports whether m is a single-ID root extent ("0 H 1"), the
// shape of CRI-O's map-to-root, which points container root at the pod's
// runAsUser (on OpenShift, the first ID of the project's range).
func IsSingleRoot(m rspec.LinuxIDMapping) bool { return m.ContainerID == 0 && m.Size == 1 }

// CheckAllowedRanges is check 3: every host extent lies inside the allowed
// ranges, or, for a single-ID root extent, inside the project root range,
// or, for a native user namespace (pod hostUsers: false, see Origin),
// inside the kubelet's range.
func CheckAllowedRanges(k Kind, maps []rspec.LinuxIDMapping, a Allowed, o Origin) []Finding {
	native := o.Native() && a.Kubelet != nil
	ranges := a.Ranges
	if native {
		ranges = idmap.MergeRanges(slices.Concat(a.Ranges, a.Kubelet.Ranges))
	}
	var out []Finding
	// cover is an allowed range that held a whole extent: the next extents
	// of a map (up to 340, sorted as a rule) lie in the same one mostly,
	// and an extent inside it is allowed without computing gaps.
	var cover *idmap.Range
	for i, m := range maps {
		if m.Size == 0 {
			continue // check 1's business
		}
		hr := idmap.HostRange(m)
		if IsSingleRoot(m) && a.RootRange != nil && a.RootRange.Contains(m.HostID) {
			continue
		}
		if cover != nil && cover.ContainsRange(hr) {
			continue
		}
		gaps := idmap.Uncovered(ranges, hr)
		if len(gaps) == 0 {
			for k := range ranges {
				if ranges[k].ContainsRange(hr) {
					cover = &ranges[k]
					break
				}
			}
			continue
		}
		var allowed strings.Builder
		fmt.Fprintf(&allowed, "%s from %s", idmap.FormatRanges(a.Ranges), a.Source)
		if a.RootRange != nil {
			fmt.Fprintf(&allowed, "; single-ID root extents also %s", a.RootRange)
		}
		if native {
			fmt.Fprintf(&allowed, "; native user namespaces (hostUsers: false) also %s from %s",
				idmap.FormatRanges(a.Kubelet.Ranges), a.Kubelet.Source)
		}
		widen := fmt.Sprintf("add the range to %s in the policy", a.PolicyKey)
		fix := fmt.Sprintf(`allocate host IDs from the allowed ranges (userns-mode "auto" takes them from the subid file) or %s`, widen)
		switch {
		case native:
			fix = fmt.Sprintf(`the kubelet allocates hostUsers: false pods from the "kubelet" entries of the subid files (read with getsubids) or else from 65536-4294967295: set kubelet_subid_owner or kubelet_default_range in the policy to the node kubelet's range, or %s`, widen)
		case a.Kubelet != nil && o.Annotation != "" && o.KubeletShaped && len(idmap.Uncovered(a.Kubelet.Ranges, hr)) == 0:
			// Probably a hostUsers: false pod that also carries the
			// annotation: CRI-O then uses the kubelet's mapping, but the
			// hook cannot tell it from an annotation that imitates one.
			fix = fmt.Sprintf(`the kubelet's range (%s from %s) is only for native user namespaces, which carry no userns-mode annotation: drop the %s annotation from a hostUsers: false pod, or %s`,
				idmap.FormatRanges(a.Kubelet.Ranges), a.Kubelet.Source, o.Annotation, fix)
		}
		out = append(out, Finding{
			Check: AllowedRanges, Map: k.Map, Extent: idmap.ExtentString(m),
			Reason: fmt.Sprintf("%s extent #%d (%s) uses host %ss %s outside the allowed ranges (%s)",
				k.Map, i+1, idmap.ExtentString(m), k.ID, idmap.FormatRanges(gaps), allowed.String()),
			Fix: fix,
		})
	}
	return out
}

func runAllowedRanges(in *Input) Result {
	p := in.Policy
	au := Allowed{Ranges: p.UIDs, Source: p.UIDSource, RootRange: p.RootRange, PolicyKey: "allowed_uids"}
	ag := Allowed{Ranges: p.GIDs, Source: p.GIDSource, RootRange: p.RootRange, PolicyKey: "allowed_gids"}
	if k := p.Kubelet; k != nil {
		au.Kubelet = &KubeletAllowed{Ranges: k.UIDs, Source: k.UIDSource}
		ag.Kubelet = &KubeletAllowed{Ranges: k.GIDs, Source: k.GIDSource}
	}
	return Result{Findings: append(CheckAllowedRanges(UID, in.UIDs, au, in.Origin), CheckAllowedRanges(GID, in.GIDs, ag, in.Origin)...)}
}
