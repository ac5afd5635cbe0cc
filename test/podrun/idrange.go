package podrun

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// IDRange is a block of UIDs or GIDs as OpenShift records it on a namespace
// (openshift.io/sa.scc.uid-range, openshift.io/sa.scc.supplemental-groups),
// in the project's one ID range type; the zero range means unset.
type IDRange = idmap.Range

// DefaultUIDRange is the range field report 000's project "test" was given.
var DefaultUIDRange = IDRange{First: 1000650000, Last: 1000659999}

// ParseIDRange reads a range in either form that openshift/library-go
// pkg/security/uid ParseBlock accepts: "START/SIZE" (what the namespace
// annotations hold) or "START-END" (inclusive).
func ParseIDRange(s string) (IDRange, error) {
	if start, size, ok := strings.Cut(s, "/"); ok {
		a, err := parseID(start)
		if err != nil {
			return IDRange{}, fmt.Errorf("ID range %q: start: %w", s, err)
		}
		n, err := parseID(size)
		if err != nil {
			return IDRange{}, fmt.Errorf("ID range %q: size: %w", s, err)
		}
		if n == 0 {
			return IDRange{}, fmt.Errorf("ID range %q: size must be at least 1", s)
		}
		return block(s, a, n)
	}
	if start, end, ok := strings.Cut(s, "-"); ok {
		a, err := parseID(start)
		if err != nil {
			return IDRange{}, fmt.Errorf("ID range %q: start: %w", s, err)
		}
		b, err := parseID(end)
		if err != nil {
			return IDRange{}, fmt.Errorf("ID range %q: end: %w", s, err)
		}
		if b < a {
			return IDRange{}, fmt.Errorf("ID range %q: end is before start", s)
		}
		return IDRange{First: uint32(a), Last: uint32(b)}, nil
	}
	return IDRange{}, fmt.Errorf("ID range %q: want START/SIZE or START-END", s)
}

// block is START/SIZE as a range.
func block(s string, start, size int64) (IDRange, error) {
	if start+size-1 > 1<<32-1 {
		return IDRange{}, fmt.Errorf("ID range %q: ends past ID %d", s, uint32(1<<32-1))
	}
	return IDRange{First: uint32(start), Last: uint32(start + size - 1)}, nil
}

func parseID(s string) (int64, error) {
	// IDs are 32-bit on Linux; anything larger cannot be a real range.
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}
