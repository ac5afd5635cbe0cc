package idmap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
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
	if n := bytes.Count(b, []byte{'\n'}); n > 0 {
		maps = make([]rspec.LinuxIDMapping, 0, n+1)
	}
	i := 0
	for i < len(b) {
		// The kernel's own lines, "%10u %10u %10u\n", a field at a time.
		if len(b)-i >= procLine && b[i+10] == ' ' && b[i+21] == ' ' && b[i+32] == '\n' {
			c, okC := field10(b[i : i+10])
			h, okH := field10(b[i+11 : i+21])
			n, okN := field10(b[i+22 : i+32])
			if okC && okH && okN {
				maps = append(maps, rspec.LinuxIDMapping{ContainerID: c, HostID: h, Size: n})
				i += procLine
				continue
			}
		}
		var v [3]uint32
		n := 0
		for {
			for i < len(b) && isBlank(b[i]) {
				i++
			}
			if i == len(b) || b[i] == '\n' {
				break
			}
			if n == 3 || b[i] < '0' || b[i] > '9' {
				return nil, false
			}
			var x uint64
			start := i
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				x = x*10 + uint64(b[i]-'0')
				i++
			}
			if i-start > 10 || x > 1<<32-1 || i < len(b) && !isBlank(b[i]) && b[i] != '\n' {
				return nil, false
			}
			v[n] = uint32(x)
			n++
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
	if len(maps) == 0 {
		return nil, true
	}
	return maps, true
}

// procLine is the length of a line the kernel prints.
const procLine = 33

// field10 reads a 10-column field of such a line: spaces, then digits to
// its end. A field is mostly padding, skipped 8 bytes at a time.
func field10(f []byte) (uint32, bool) {
	f = f[:10]
	j := bits.TrailingZeros64(binary.LittleEndian.Uint64(f)^0x2020202020202020) / 8
	if j == 8 && f[8] == ' ' {
		j = 9
	}
	var x uint64
	for _, c := range f[j:] {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		x = x*10 + uint64(d)
	}
	return uint32(x), x <= 1<<32-1
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

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
