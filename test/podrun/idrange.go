package podrun

import (
	"fmt"
	"strconv"
	"strings"
)

// IDRange is a block of UIDs or GIDs as OpenShift records it on a namespace
// (openshift.io/sa.scc.uid-range, openshift.io/sa.scc.supplemental-groups).
type IDRange struct {
	Start int64
	Size  int64
}

// DefaultUIDRange is the range field report 000's project "test" was given.
var DefaultUIDRange = IDRange{Start: 1000650000, Size: 10000}

// Max is the last ID in the range.
func (r IDRange) Max() int64 { return r.Start + r.Size - 1 }

// Contains reports whether id lies in the range.
func (r IDRange) Contains(id int64) bool { return id >= r.Start && id <= r.Max() }

// IsZero reports whether the range was left unset.
func (r IDRange) IsZero() bool { return r.Size == 0 }

// String renders the range in the annotation's START/SIZE form.
func (r IDRange) String() string { return fmt.Sprintf("%d/%d", r.Start, r.Size) }

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
		return IDRange{Start: a, Size: n}, nil
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
		return IDRange{Start: a, Size: b - a + 1}, nil
	}
	return IDRange{}, fmt.Errorf("ID range %q: want START/SIZE or START-END", s)
}

func parseID(s string) (int64, error) {
	// IDs are 32-bit on Linux; anything larger cannot be a real range.
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}
