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

// ParseSubID reads subuid(5)/subgid(5) text. Blank lines and lines starting
// with '#' are skipped, as shadow-utils does. A malformed line is an error
// rather than skipped: the file decides which host IDs containers may use,
// and a typo there should be seen, not silently narrow or widen the set.
func ParseSubID(r io.Reader) ([]SubID, error) {
	var out []SubID
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ":")
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: %q: want 3 colon-separated fields (owner:start:count), got %d", line, text, len(fields))
		}
		if fields[0] == "" {
			return nil, fmt.Errorf("line %d: %q: empty owner", line, text)
		}
		start, err := strconv.ParseUint(fields[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: start: %w", line, text, err)
		}
		count, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: count: %w", line, text, err)
		}
		if count == 0 {
			return nil, fmt.Errorf("line %d: %q: count is 0", line, text)
		}
		if start+count-1 > uint64(MaxID) {
			return nil, fmt.Errorf("line %d: %q: range ends at %d, past the highest ID %d", line, text, start+count-1, MaxID)
		}
		out = append(out, SubID{Owner: fields[0], Start: uint32(start), Count: uint32(count), Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading subordinate ID file: %w", err)
	}
	return out, nil
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
