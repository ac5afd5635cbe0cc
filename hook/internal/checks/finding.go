// Package checks holds the hook's checks as functions from a container's
// mappings (and what else each check needs, already read) to findings, and
// Table, the one list of them. They do no I/O: the caller gathers the inputs
// (Input), so each check is table-tested on its own and the hook and
// `validate` run them through the one Evaluate.
package checks

import (
	"fmt"
	"strings"
	"unicode"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Severity says what a finding does.
type Severity int

const (
	// Error refuses the container in enforce mode.
	Error Severity = iota
	// Warning is logged only (image_accounts = "warn").
	Warning
	// Skipped says a check did not run and why (validate's live-maps).
	Skipped
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "skipped"
}

// Finding is one thing a check found wrong. Reason and Fix are written to be
// joined as "<reason>; <fix>" on the hook's one line.
type Finding struct {
	Check    ID
	Severity Severity
	Reason   string
	Fix      string
	// Map is "uid_map" or "gid_map" when the finding is about one of them.
	Map string
	// Extent is the offending extent in /proc order ("container host size").
	Extent string
}

// Kind selects the UID or the GID side of a container's mappings.
type Kind struct {
	Map  string // "uid_map"
	ID   string // "UID"
	Spec string // "uidMappings"
}

var (
	UID = Kind{Map: "uid_map", ID: "UID", Spec: "uidMappings"}
	GID = Kind{Map: "gid_map", ID: "GID", Spec: "gidMappings"}
)

// FormatMap renders maps compactly for a one-line message:
// "0 200000 65536, 1 265536 10".
func FormatMap(maps []rspec.LinuxIDMapping) string {
	if len(maps) == 0 {
		return "empty"
	}
	parts := make([]string, 0, min(len(maps), 6))
	for i, m := range maps {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("... %d more", len(maps)-5))
			break
		}
		parts = append(parts, idmap.ExtentString(m))
	}
	return strings.Join(parts, ", ")
}

// containerRanges lists the container IDs maps covers, for "run as an ID
// inside ..." fixes.
func containerRanges(maps []rspec.LinuxIDMapping) string {
	rs := make([]idmap.Range, 0, len(maps))
	for _, m := range maps {
		if m.Size > 0 {
			rs = append(rs, idmap.ContainerRange(m))
		}
	}
	return idmap.FormatRanges(idmap.MergeRanges(rs))
}

// Printable replaces control characters (C0, DEL, C1, and the Unicode line
// and paragraph separators) with '?'. Names from annotations and from the
// registry end up on the one line the runtime shows and in log records,
// where a newline or an escape sequence could forge or hide a line.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}
