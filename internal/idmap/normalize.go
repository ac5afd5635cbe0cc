package idmap

import (
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Normalize returns maps sorted by container ID with extents that continue
// each other on both sides merged into one, and zero-size extents dropped.
// Two valid maps translate every ID alike exactly when their normalised forms
// are equal: the kernel may print a map in another order than it was
// written, and "0 100 5" + "5 105 5" is the same mapping as "0 100 10".
// The input is not modified.
func Normalize(maps []rspec.LinuxIDMapping) []rspec.LinuxIDMapping {
	out := make([]rspec.LinuxIDMapping, 0, len(maps))
	for _, m := range maps {
		if m.Size > 0 {
			out = append(out, m)
		}
	}
	// Maps come sorted by container ID as a rule (runtimes write them so,
	// the kernel prints them so): a check is a pass, a sort many.
	if !slices.IsSortedFunc(out, cmpExtent) {
		slices.SortFunc(out, cmpExtent)
	}
	merged := out[:0]
	for _, m := range out {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			end := uint64(last.ContainerID) + uint64(last.Size)
			hostEnd := uint64(last.HostID) + uint64(last.Size)
			sum := uint64(last.Size) + uint64(m.Size)
			if end == uint64(m.ContainerID) && hostEnd == uint64(m.HostID) && sum <= uint64(^uint32(0)) {
				last.Size = uint32(sum)
				continue
			}
		}
		merged = append(merged, m)
	}
	if len(merged) == 0 {
		return nil
	}
	return merged
}

func cmpExtent(a, b rspec.LinuxIDMapping) int {
	if c := cmpUint32(a.ContainerID, b.ContainerID); c != 0 {
		return c
	}
	if c := cmpUint32(a.HostID, b.HostID); c != 0 {
		return c
	}
	return cmpUint32(a.Size, b.Size)
}

// Equal reports whether a and b describe the same translation, comparing
// their normalised forms (identical lists need no normalising: the live
// map the kernel prints is, as a rule, the one the runtime wrote).
func Equal(a, b []rspec.LinuxIDMapping) bool {
	return slices.Equal(a, b) || slices.Equal(Normalize(a), Normalize(b))
}
