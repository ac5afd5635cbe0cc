package idmap

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Range is a closed interval [First, Last] of IDs on one side of a mapping.
//
// It is inclusive at both ends, as operators write ranges
// ("1000000000-1999999999"), so that the full 32-bit space fits without a
// 33-bit size.
type Range struct {
	First, Last uint32
}

// String renders r as "first-last", or "id" for a single ID.
func (r Range) String() string {
	if r.First == r.Last {
		return strconv.FormatUint(uint64(r.First), 10)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Size is the number of IDs in r (a uint64: the full space holds 2^32).
func (r Range) Size() uint64 { return uint64(r.Last) - uint64(r.First) + 1 }

// Contains reports whether id lies in r.
func (r Range) Contains(id uint32) bool { return id >= r.First && id <= r.Last }

// ContainsID reports whether id, an ID as the Kubernetes API holds it
// (int64), lies in r: a negative ID or one past 32 bits never does.
func (r Range) ContainsID(id int64) bool {
	return id >= 0 && id <= 1<<32-1 && r.Contains(uint32(id))
}

// IsZero reports whether r is the zero Range (the one ID 0), which holders
// of an optional range take for "unset".
func (r Range) IsZero() bool { return r == Range{} }

// ContainsRange reports whether all of o lies in r.
func (r Range) ContainsRange(o Range) bool { return o.First >= r.First && o.Last <= r.Last }

// Overlaps reports whether r and o share at least one ID.
func (r Range) Overlaps(o Range) bool { return r.First <= o.Last && o.First <= r.Last }

// Intersect returns the IDs r and o share.
func (r Range) Intersect(o Range) (Range, bool) {
	if !r.Overlaps(o) {
		return Range{}, false
	}
	return Range{First: max(r.First, o.First), Last: min(r.Last, o.Last)}, true
}

// ParseRange reads "first-last" (inclusive) or a single "id".
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	lo, hi, isPair := strings.Cut(s, "-")
	first, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: first ID: %w", s, err)
	}
	last := first
	if isPair {
		if last, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 32); err != nil {
			return Range{}, fmt.Errorf("range %q: last ID: %w", s, err)
		}
	}
	if last < first {
		return Range{}, fmt.Errorf("range %q: last ID %d is below first ID %d", s, last, first)
	}
	return Range{First: uint32(first), Last: uint32(last)}, nil
}

// HostRange is the host-side range of m. m.Size must be > 0; an extent that
// runs past 2^32-1 is clamped there (Validate reports it separately).
func HostRange(m rspec.LinuxIDMapping) Range { return span(m.HostID, m.Size) }

// ContainerRange is the container-side range of m, with HostRange's rules.
func ContainerRange(m rspec.LinuxIDMapping) Range { return span(m.ContainerID, m.Size) }

func span(first, size uint32) Range {
	last := uint64(first) + uint64(size) - 1
	if size == 0 {
		last = uint64(first)
	}
	return Range{First: first, Last: uint32(min(last, uint64(^uint32(0))))}
}

// MergeRanges returns the union of rs as sorted, disjoint, non-adjacent
// ranges. The input is not modified.
func MergeRanges(rs []Range) []Range {
	if len(rs) == 0 {
		return nil
	}
	out := slices.Clone(rs)
	byFirst := func(a, b Range) int { return cmpUint32(a.First, b.First) }
	if !slices.IsSortedFunc(out, byFirst) {
		slices.SortFunc(out, byFirst)
	}
	merged := out[:1]
	for _, r := range out[1:] {
		last := &merged[len(merged)-1]
		// Adjacent ranges merge too: "1-5" and "6-9" cover "1-9".
		if uint64(r.First) <= uint64(last.Last)+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// merged reports whether rs is already in MergeRanges's form (sorted,
// disjoint, non-adjacent), as callers that check many extents against the
// same ranges pass them: merging them again for every extent would clone
// and sort them each time.
func merged(rs []Range) bool {
	for i := 1; i < len(rs); i++ {
		if uint64(rs[i].First) <= uint64(rs[i-1].Last)+1 {
			return false
		}
	}
	return true
}

// Uncovered returns the parts of r that no range in allowed covers, in
// ascending order; nil means r lies wholly inside the union of allowed.
func Uncovered(allowed []Range, r Range) []Range {
	if !merged(allowed) {
		allowed = MergeRanges(allowed)
	}
	var gaps []Range
	next := uint64(r.First) // first ID of r not yet known to be covered
	for _, a := range allowed {
		if uint64(a.Last) < next {
			continue
		}
		if uint64(a.First) > uint64(r.Last) {
			break
		}
		if uint64(a.First) > next {
			gaps = append(gaps, Range{First: uint32(next), Last: a.First - 1})
		}
		next = uint64(a.Last) + 1
		if next > uint64(r.Last) {
			return gaps
		}
	}
	return append(gaps, Range{First: uint32(next), Last: r.Last})
}

// FormatRanges renders rs as "a-b, c-d" ("none" when empty) for messages.
func FormatRanges(rs []Range) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
