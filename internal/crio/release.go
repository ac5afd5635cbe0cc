package crio

import (
	"fmt"
	"strconv"
	"strings"
)

// Release is a CRI-O release tag, vMAJOR.MINOR.PATCH: the only form the Go
// module proxy serves CRI-O under and the name of a series directory.
type Release struct{ Major, Minor, Patch int }

// ParseRelease parses a release tag such as v1.36.3.
func ParseRelease(tag string) (Release, error) {
	parts := strings.Split(strings.TrimPrefix(tag, "v"), ".")
	if !strings.HasPrefix(tag, "v") || len(parts) != 3 {
		return Release{}, fmt.Errorf("CRI-O version %q: want a release tag vMAJOR.MINOR.PATCH, e.g. v1.36.3", tag)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p != strconv.Itoa(v) {
			return Release{}, fmt.Errorf("CRI-O version %q: want a release tag vMAJOR.MINOR.PATCH, e.g. v1.36.3", tag)
		}
		n[i] = v
	}
	return Release{n[0], n[1], n[2]}, nil
}

func (r Release) String() string { return fmt.Sprintf("v%d.%d.%d", r.Major, r.Minor, r.Patch) }

// Line is the release's minor line, e.g. "1.36": CRI-O versions its
// configuration and features per line, and OpenShift pins one line per release.
func (r Release) Line() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// Less orders releases by version.
func (r Release) Less(o Release) bool {
	if r.Major != o.Major {
		return r.Major < o.Major
	}
	if r.Minor != o.Minor {
		return r.Minor < o.Minor
	}
	return r.Patch < o.Patch
}

// AtLeast reports whether r is line major.minor or later.
func (r Release) AtLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}
