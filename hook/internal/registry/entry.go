package registry

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Entry is one registered container.
type Entry struct {
	ContainerID string
	PodKey      string // bundle.Target.PodKey: same key, same pod
	Namespace   string
	Pod         string
	Container   string
	PID         int
	StartTime   uint64 // /proc/PID/stat field 22
	NSDev       uint64 // of /proc/PID/ns/user
	NSIno       uint64
	NSPath      string // the pinned namespace the spec joins, if any
	UIDMaps     []rspec.LinuxIDMapping
	GIDMaps     []rspec.LinuxIDMapping
}

// header is the first line of a registry file; a new format gets a new
// version so that an old hook refuses it rather than misreads it.
const header = "crio-userns-registry 1"

const nfields = 12

// Encode renders entries in the registry file format: the header, then one
// tab-separated line per entry, strings percent-escaped (pod and container
// names come from annotations and must not break the line structure), maps
// as "container:host:size" joined by commas ("-" when empty).
func Encode(entries []Entry) []byte {
	// Appends rather than fmt: this runs on every container start, over
	// every registered container.
	b := make([]byte, 0, 64+len(entries)*256)
	b = append(b, header...)
	b = append(b, '\n')
	for _, e := range entries {
		for _, s := range []string{e.ContainerID, e.PodKey, e.Namespace, e.Pod, e.Container} {
			b = append(b, esc(s)...)
			b = append(b, '\t')
		}
		b = strconv.AppendInt(b, int64(e.PID), 10)
		for _, n := range []uint64{e.StartTime, e.NSDev, e.NSIno} {
			b = append(b, '\t')
			b = strconv.AppendUint(b, n, 10)
		}
		b = append(b, '\t')
		b = append(b, esc(e.NSPath)...)
		b = append(b, '\t')
		b = appendMaps(b, e.UIDMaps)
		b = append(b, '\t')
		b = appendMaps(b, e.GIDMaps)
		b = append(b, '\n')
	}
	return b
}

// Decode parses a registry file. Any malformed line is an error: the file
// is only ever written whole by this package, so damage means something
// outside the hook wrote it, and guessing could hide a conflict.
func Decode(data []byte) ([]Entry, error) {
	if len(data) == 0 {
		return nil, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []Entry
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != header {
				return nil, fmt.Errorf("line 1: unknown header %q (want %q)", clip(text), header)
			}
			continue
		}
		e, err := decodeLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("line 1: missing header")
	}
	return out, nil
}

func decodeLine(text string) (Entry, error) {
	f := strings.Split(text, "\t")
	if len(f) != nfields {
		return Entry{}, fmt.Errorf("%d fields, want %d", len(f), nfields)
	}
	var e Entry
	var err error
	for i, dst := range []*string{&e.ContainerID, &e.PodKey, &e.Namespace, &e.Pod, &e.Container} {
		if *dst, err = unesc(f[i]); err != nil {
			return Entry{}, fmt.Errorf("field %d: %w", i+1, err)
		}
	}
	if e.ContainerID == "" {
		return Entry{}, fmt.Errorf("empty container ID")
	}
	if e.PID, err = strconv.Atoi(f[5]); err != nil || e.PID <= 0 {
		return Entry{}, fmt.Errorf("pid %q: not a positive number", clip(f[5]))
	}
	for i, dst := range map[int]*uint64{6: &e.StartTime, 7: &e.NSDev, 8: &e.NSIno} {
		if *dst, err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return Entry{}, fmt.Errorf("field %d: %w", i+1, err)
		}
	}
	if e.NSPath, err = unesc(f[9]); err != nil {
		return Entry{}, fmt.Errorf("field 10: %w", err)
	}
	if e.UIDMaps, err = decodeMaps(f[10]); err != nil {
		return Entry{}, fmt.Errorf("uid map: %w", err)
	}
	if e.GIDMaps, err = decodeMaps(f[11]); err != nil {
		return Entry{}, fmt.Errorf("gid map: %w", err)
	}
	return e, nil
}

func esc(s string) string {
	if s == "" {
		return "-"
	}
	// PathEscape leaves no tab, newline or '%'-ambiguity; "-" alone is the
	// empty string, so a real "-" is written escaped.
	if s == "-" {
		return "%2D"
	}
	return url.PathEscape(s)
}

func unesc(s string) (string, error) {
	if s == "-" {
		return "", nil
	}
	return url.PathUnescape(s)
}

func appendMaps(b []byte, maps []rspec.LinuxIDMapping) []byte {
	if len(maps) == 0 {
		return append(b, '-')
	}
	for i, m := range maps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(m.ContainerID), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(m.HostID), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(m.Size), 10)
	}
	return b
}

func decodeMaps(s string) ([]rspec.LinuxIDMapping, error) {
	if s == "-" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > idmap.MaxExtents {
		return nil, fmt.Errorf("%d extents, more than %d", len(parts), idmap.MaxExtents)
	}
	maps := make([]rspec.LinuxIDMapping, len(parts))
	for i, p := range parts {
		v := strings.Split(p, ":")
		if len(v) != 3 {
			return nil, fmt.Errorf("extent %q: want container:host:size", clip(p))
		}
		var n [3]uint32
		for j := range v {
			x, err := strconv.ParseUint(v[j], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("extent %q: %w", clip(p), err)
			}
			n[j] = uint32(x)
		}
		if n[2] == 0 {
			return nil, fmt.Errorf("extent %q: size 0", clip(p))
		}
		maps[i] = rspec.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]}
	}
	return maps, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
