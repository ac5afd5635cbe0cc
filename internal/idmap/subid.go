package idmap

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SubID is one line of /etc/subuid or /etc/subgid (subuid(5)):
// "owner:start:count", owner being a login name or a numeric UID.
type SubID struct {
	Owner string
	Start uint32
	Count uint32
	Line  int // 1-based line number, for messages
}

// Range is the host IDs the entry delegates.
func (s SubID) Range() Range { return Range{First: s.Start, Last: s.Start + s.Count - 1} }

// String renders the entry as its subid file line, "owner:start:count".
func (s SubID) String() string { return fmt.Sprintf("%s:%d:%d", s.Owner, s.Start, s.Count) }

// BadSubIDLine is a line of a subid file that is not a valid entry.
type BadSubIDLine struct {
	Line  int
	Owner string // the first colon-separated field, as far as there is one
	Text  string // clipped
	Err   error
}

func (b BadSubIDLine) Error() string {
	return fmt.Sprintf("line %d: %q: %v", b.Line, b.Text, b.Err)
}

// SubIDFile is a parsed subid file: its valid entries and the lines that are
// not. A stray line belongs to whoever its first field names, so that one
// owner's typo does not take every other owner's ranges with it.
type SubIDFile struct {
	Entries []SubID
	Bad     []BadSubIDLine
}

// maxSubIDLine bounds one line; subid lines are a few dozen bytes.
const maxSubIDLine = 4096

// ParseSubIDFile reads subuid(5)/subgid(5) text. Blank lines and lines
// starting with '#' are skipped, as shadow-utils does; every other line is
// an entry or a BadSubIDLine. The error is for the reading itself (a line
// longer than 4 KiB included).
func ParseSubIDFile(r io.Reader) (SubIDFile, error) {
	var out SubIDFile
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxSubIDLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		e, err := parseSubIDLine(text)
		if err != nil {
			owner, _, _ := strings.Cut(text, ":")
			out.Bad = append(out.Bad, BadSubIDLine{Line: line, Owner: owner, Text: clip(text), Err: err})
			continue
		}
		e.Line = line
		out.Entries = append(out.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return SubIDFile{}, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}

func parseSubIDLine(text string) (SubID, error) {
	fields := strings.Split(text, ":")
	if len(fields) != 3 {
		return SubID{}, fmt.Errorf("want 3 colon-separated fields (owner:start:count), got %d", len(fields))
	}
	if fields[0] == "" {
		return SubID{}, fmt.Errorf("empty owner")
	}
	start, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return SubID{}, fmt.Errorf("start: %w", err)
	}
	count, err := strconv.ParseUint(fields[2], 10, 32)
	if err != nil {
		return SubID{}, fmt.Errorf("count: %w", err)
	}
	if count == 0 {
		return SubID{}, fmt.Errorf("count is 0")
	}
	if start+count-1 > uint64(MaxID) {
		return SubID{}, fmt.Errorf("range ends at %d, past the highest ID %d", start+count-1, MaxID)
	}
	return SubID{Owner: fields[0], Start: uint32(start), Count: uint32(count)}, nil
}

// ParseSubID is ParseSubIDFile for files that must be wholly valid (the
// ones this project generates): any bad line is an error.
func ParseSubID(r io.Reader) ([]SubID, error) {
	f, err := ParseSubIDFile(r)
	if err != nil {
		return nil, err
	}
	if len(f.Bad) > 0 {
		return nil, f.Bad[0]
	}
	return f.Entries, nil
}

// IsNumericOwner reports whether owner is written as a UID, which
// containers/storage (idtools) and shadow-utils match against the user's
// numeric ID.
func IsNumericOwner(owner string) bool {
	if owner == "" {
		return false
	}
	for _, c := range owner {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// HasNumericOwners reports whether any line, valid or not, names its owner
// by UID: only then does a caller need the owner's UID.
func (f SubIDFile) HasNumericOwners() bool {
	for _, e := range f.Entries {
		if IsNumericOwner(e.Owner) {
			return true
		}
	}
	for _, b := range f.Bad {
		if IsNumericOwner(b.Owner) {
			return true
		}
	}
	return false
}

// Owned returns the merged ranges delegated to owner, matched by name or,
// when uid is not empty, by numeric UID (as containers/storage does), and
// the owner's own bad lines: a typo in them narrows or widens the owner's
// ranges in a way no one intended, so callers refuse them.
func (f SubIDFile) Owned(owner, uid string) ([]Range, []BadSubIDLine) {
	match := func(o string) bool { return o == owner || (uid != "" && o == uid) }
	var bad []BadSubIDLine
	for _, b := range f.Bad {
		if match(b.Owner) {
			bad = append(bad, b)
		}
	}
	return SubIDRanges(f.Entries, owner, uid), bad
}

// SubIDRanges returns the merged ranges delegated to owner (matched by name,
// or by numeric UID when uid is not empty).
func SubIDRanges(entries []SubID, owner, uid string) []Range {
	var rs []Range
	for _, e := range entries {
		if e.Owner == owner || (uid != "" && e.Owner == uid) {
			rs = append(rs, e.Range())
		}
	}
	return MergeRanges(rs)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
