package checks

import (
	"fmt"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// CheckStructure is check 1: the map is one the kernel accepts (at most 340
// extents, none empty, none past ID 4294967294, no two sharing IDs on either
// side). joined says the container joins an existing user namespace by
// path, where an empty map in config.json is legitimate (the caller then
// checks the live map instead).
func CheckStructure(k Kind, maps []rspec.LinuxIDMapping, joined bool) []Finding {
	if len(maps) == 0 {
		if joined {
			return nil
		}
		return []Finding{{
			Check: Structure, Map: k.Map,
			Reason: fmt.Sprintf("user namespace requested with an empty %s (no linux.%s)", k.Map, k.Spec),
			Fix:    `let CRI-O generate the mapping (userns-mode "auto", or hostUsers: false) instead of an empty one`,
		}}
	}
	return structureFindings(k, idmap.Validate(maps))
}

// structureFindings are check 1's findings for a non-empty map's problems.
func structureFindings(k Kind, probs []idmap.Problem) []Finding {
	var out []Finding
	for _, p := range probs {
		f := Finding{Check: Structure, Map: k.Map, Reason: k.Map + " " + p.Error(), Extent: idmap.ExtentString(p.Extent)}
		switch p.Kind {
		case idmap.TooManyExtents:
			f.Extent = ""
			f.Fix = fmt.Sprintf("use at most %d extents (merge adjacent ones or map larger ranges)", idmap.MaxExtents)
		case idmap.ZeroSize:
			f.Fix = "give every extent a size of at least 1"
		case idmap.Overflow:
			f.Fix = fmt.Sprintf("keep every extent's last ID at or below %d", idmap.MaxID)
		case idmap.Overlap:
			f.Fix = fmt.Sprintf("give each extent its own %s IDs", p.Side)
		}
		out = append(out, f)
	}
	return out
}

func runStructure(in *Input) Result {
	// A pod's gid map is its uid map as a rule, of up to 340 extents: the
	// same extents have the same problems, found once.
	if len(in.UIDs) > 0 && slices.Equal(in.UIDs, in.GIDs) {
		probs := idmap.Validate(in.UIDs)
		return Result{Findings: append(structureFindings(UID, probs), structureFindings(GID, probs)...)}
	}
	return Result{Findings: append(CheckStructure(UID, in.UIDs, in.Joined), CheckStructure(GID, in.GIDs, in.Joined)...)}
}
