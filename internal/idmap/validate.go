package idmap

import (
	"fmt"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// MaxExtents is the most lines the kernel accepts in one uid_map or gid_map
// (since Linux 4.15; 5 before).
const MaxExtents = 340

// MaxID is the highest ID an extent may cover. The kernel refuses an extent
// whose end wraps 32 bits (first+count <= first in u32 arithmetic), which
// leaves 4294967295, (uid_t)-1 meaning "no ID", unmappable.
const MaxID = ^uint32(0) - 1

// ProblemKind classifies a structural defect of a mapping.
type ProblemKind int

const (
	// TooManyExtents: more than MaxExtents extents.
	TooManyExtents ProblemKind = iota + 1
	// ZeroSize: an extent of size 0 (the kernel rejects the whole map).
	ZeroSize
	// Overflow: an extent that runs past MaxID on one side.
	Overflow
	// Overlap: two extents share IDs on one side.
	Overlap
)

// Side names one side of a mapping.
type Side string

const (
	ContainerSide Side = "container"
	HostSide      Side = "host"
)

// Problem is one structural defect found by Validate. Index and Other are
// positions in the map as given, so that a message can point at the line.
type Problem struct {
	Kind        ProblemKind
	Side        Side                 // for Overflow and Overlap
	Index       int                  // the offending extent (-1 for TooManyExtents)
	Extent      rspec.LinuxIDMapping // maps[Index]
	Other       int                  // for Overlap: the extent Index collides with
	OtherExtent rspec.LinuxIDMapping
	Shared      Range // for Overlap: the IDs both extents claim
	Count       int   // for TooManyExtents: len(maps)
}

// ExtentString renders an extent in the kernel's column order
// ("container host size"), the form operators see in /proc/PID/uid_map.
func ExtentString(m rspec.LinuxIDMapping) string {
	return fmt.Sprintf("%d %d %d", m.ContainerID, m.HostID, m.Size)
}

func (p Problem) Error() string {
	switch p.Kind {
	case TooManyExtents:
		return fmt.Sprintf("%d extents, more than the kernel's limit of %d", p.Count, MaxExtents)
	case ZeroSize:
		return fmt.Sprintf("extent #%d (%s) has size 0", p.Index+1, ExtentString(p.Extent))
	case Overflow:
		return fmt.Sprintf("extent #%d (%s) runs past ID %d on the %s side", p.Index+1, ExtentString(p.Extent), MaxID, p.Side)
	case Overlap:
		return fmt.Sprintf("extents #%d (%s) and #%d (%s) overlap on the %s side (IDs %s)",
			p.Other+1, ExtentString(p.OtherExtent), p.Index+1, ExtentString(p.Extent), p.Side, p.Shared)
	}
	return fmt.Sprintf("unknown problem %d", p.Kind)
}

// Validate returns every structural defect of maps that would make the
// kernel refuse it, in a stable order: count, then per-extent defects in
// input order, then container-side overlaps, then host-side overlaps. A nil
// result means the kernel would accept maps (an empty map is valid here; the
// caller decides whether a user namespace needs one).
func Validate(maps []rspec.LinuxIDMapping) []Problem {
	var probs []Problem
	if len(maps) > MaxExtents {
		probs = append(probs, Problem{Kind: TooManyExtents, Index: -1, Count: len(maps)})
	}
	for i, m := range maps {
		if m.Size == 0 {
			probs = append(probs, Problem{Kind: ZeroSize, Index: i, Extent: m})
			continue
		}
		if uint64(m.ContainerID)+uint64(m.Size)-1 > uint64(MaxID) {
			probs = append(probs, Problem{Kind: Overflow, Side: ContainerSide, Index: i, Extent: m})
		}
		if uint64(m.HostID)+uint64(m.Size)-1 > uint64(MaxID) {
			probs = append(probs, Problem{Kind: Overflow, Side: HostSide, Index: i, Extent: m})
		}
	}
	probs = append(probs, overlaps(maps, ContainerSide)...)
	probs = append(probs, overlaps(maps, HostSide)...)
	return probs
}

// overlaps sweeps the extents sorted by start on one side and reports each
// extent that begins before the furthest end seen so far: O(n log n), and at
// most one report per extent, which names the extent it runs into.
func overlaps(maps []rspec.LinuxIDMapping, side Side) []Problem {
	host := side == HostSide
	first := func(m *rspec.LinuxIDMapping) uint32 {
		if host {
			return m.HostID
		}
		return m.ContainerID
	}
	// The extents by start, ties in input order, as positions in maps.
	// Maps come sorted as a rule: then that is maps itself, and no list is
	// built.
	var order []int
	for i := 1; i < len(maps); i++ {
		if first(&maps[i]) < first(&maps[i-1]) {
			order = make([]int, len(maps))
			for j := range order {
				order[j] = j
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmpUint32(first(&maps[a]), first(&maps[b])) })
			break
		}
	}
	var probs []Problem
	reach := -1   // index of the extent reaching furthest so far
	var far Range // its range
	for k := range maps {
		i := k
		if order != nil {
			i = order[k]
		}
		m := &maps[i]
		if m.Size == 0 {
			continue // zero-size extents claim nothing and are reported already
		}
		// Extents come by start, so far starts at or before m: they share
		// IDs when m starts at or before far's end.
		start := first(m)
		if reach >= 0 && start <= far.Last {
			r := span(start, m.Size)
			shared, _ := far.Intersect(r)
			probs = append(probs, Problem{
				Kind: Overlap, Side: side, Index: i, Extent: *m,
				Other: reach, OtherExtent: maps[reach], Shared: shared,
			})
			if r.Last > far.Last {
				reach, far = i, r
			}
			continue
		}
		// m.Size > 0: its last ID is first+size-1, at most 2^32-1 (span's
		// clamp, for extents that overflow, reported already).
		if last := uint32(min(uint64(start)+uint64(m.Size)-1, uint64(^uint32(0)))); reach < 0 || last > far.Last {
			reach, far = i, Range{First: start, Last: last}
		}
	}
	return probs
}
