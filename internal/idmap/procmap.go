package idmap

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseProcMap reads the kernel's uid_map/gid_map format: one extent per line,
// "inside outside count", separated by any amount of blanks.
func ParseProcMap(r io.Reader) ([]rspec.LinuxIDMapping, error) {
	var maps []rspec.LinuxIDMapping
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: %q: want 3 fields (inside outside count), got %d", line, text, len(fields))
		}
		var v [3]uint32
		for i, f := range fields {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: field %d: %w", line, text, i+1, err)
			}
			v[i] = uint32(n)
		}
		maps = append(maps, rspec.LinuxIDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ID map: %w", err)
	}
	return maps, nil
}

// ParseProcMapString is ParseProcMap for text already in memory.
func ParseProcMapString(s string) ([]rspec.LinuxIDMapping, error) {
	return ParseProcMapBytes([]byte(s))
}

// ParseProcMapBytes is ParseProcMap for text already in memory. The text
// the kernel prints (ASCII digits, spaces, newlines) is read byte by byte,
// without a scanner or an allocation per line: a map has up to 340 lines
// and the hook reads two of them for every user-namespaced container.
// Anything else goes to ParseProcMap, for its exact errors.
func ParseProcMapBytes(b []byte) ([]rspec.LinuxIDMapping, error) {
	if maps, ok := parseProcMapFast(b); ok {
		return maps, nil
	}
	return ParseProcMap(bytes.NewReader(b))
}

func parseProcMapFast(b []byte) (maps []rspec.LinuxIDMapping, ok bool) {
	i := 0
	for i < len(b) {
		var v [3]uint32
		n := 0
		for i < len(b) && b[i] != '\n' {
			switch c := b[i]; {
			case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
				i++
			case c >= '0' && c <= '9':
				if n == 3 {
					return nil, false
				}
				var x uint64
				start := i
				for i < len(b) && b[i] >= '0' && b[i] <= '9' {
					x = x*10 + uint64(b[i]-'0')
					if x > 1<<32-1 || i-start > 10 {
						return nil, false
					}
					i++
				}
				if i < len(b) && !(b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\v' || b[i] == '\f' || b[i] == '\n') {
					return nil, false
				}
				v[n] = uint32(x)
				n++
			default:
				return nil, false
			}
		}
		i++ // the newline
		switch n {
		case 0: // a blank line
		case 3:
			maps = append(maps, rspec.LinuxIDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]})
		default:
			return nil, false
		}
	}
	return maps, true
}

// FormatProcMap renders maps the way the kernel prints /proc/PID/uid_map.
func FormatProcMap(maps []rspec.LinuxIDMapping) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%10d %10d %10d\n", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}

// Triples renders maps as [inside, outside, count] rows, the form the test
// tools print in JSON.
func Triples(maps []rspec.LinuxIDMapping) [][3]uint32 {
	out := make([][3]uint32, 0, len(maps))
	for _, m := range maps {
		out = append(out, [3]uint32{m.ContainerID, m.HostID, m.Size})
	}
	return out
}
