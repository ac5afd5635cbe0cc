package idmap

import (
	"bufio"
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
	return ParseProcMap(strings.NewReader(s))
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
