package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Entry is one registered user namespace.
type Entry struct {
	// NS is the user namespace, the entry's key.
	NS nsfs.ID
	// PodKey identifies the pod (bundle.Target.PodKey); Namespace and Pod
	// name it.
	PodKey    string
	Namespace string
	Pod       string
	// Container, ContainerID, PID and StartTime are the container that
	// registered the namespace: its process keeps the namespace alive.
	Container   string
	ContainerID string
	PID         int
	StartTime   uint64 // /proc/PID/stat field 22
	// NSPath is the pinned namespace the container joins ("" for one it
	// created): the pin keeps the namespace alive while the pod exists.
	NSPath  string
	UIDMaps []rspec.LinuxIDMapping
	GIDMaps []rspec.LinuxIDMapping
}

// Same reports whether e and o describe one namespace of one pod: a live
// namespace's maps never change, so an entry under the same key with other
// maps or another pod is a stale one whose inode number was reused.
func (e *Entry) Same(o *Entry) bool {
	return e.NS == o.NS && e.PodKey == o.PodKey &&
		slices.Equal(e.UIDMaps, o.UIDMaps) && slices.Equal(e.GIDMaps, o.GIDMaps)
}

// entryHeader is the first line of an entry file; a new format gets a new
// version so that an old hook refuses it rather than misreads it.
const entryHeader = "crio-userns-registry-entry 2"

// fileName is the entry's file name under ns/.
func fileName(id nsfs.ID) string { return fmt.Sprintf("%d-%d", id.Dev, id.Ino) }

// Encode renders e as an entry file: the header, then one line each for
// the namespace, the pod, the registering process and the two maps. Strings
// are percent-escaped (pod and container names come from annotations and
// must not break the line structure), maps are "container:host:size" joined
// by commas ("-" when empty).
func (e *Entry) Encode() []byte {
	b := make([]byte, 0, 256+24*(len(e.UIDMaps)+len(e.GIDMaps)))
	b = append(b, entryHeader...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, e.NS.Dev, 10)
	b = append(b, '\t')
	b = strconv.AppendUint(b, e.NS.Ino, 10)
	b = append(b, '\n')
	for i, s := range []string{e.PodKey, e.Namespace, e.Pod} {
		if i > 0 {
			b = append(b, '\t')
		}
		b = append(b, esc(s)...)
	}
	b = append(b, '\n')
	b = append(b, esc(e.Container)...)
	b = append(b, '\t')
	b = append(b, esc(e.ContainerID)...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(e.PID), 10)
	b = append(b, '\t')
	b = strconv.AppendUint(b, e.StartTime, 10)
	b = append(b, '\t')
	b = append(b, esc(e.NSPath)...)
	b = append(b, '\n')
	uids := len(b)
	b = appendMaps(b, e.UIDMaps)
	uids = len(b) - uids
	b = append(b, '\n')
	if slices.Equal(e.GIDMaps, e.UIDMaps) {
		// As a rule: the same text again, 340 extents rendered once.
		b = append(b, b[len(b)-1-uids:len(b)-1]...)
	} else {
		b = appendMaps(b, e.GIDMaps)
	}
	b = append(b, '\n')
	return b
}

// DecodeEntry parses an entry file. Anything malformed is an error: the
// file is only ever written whole by this package, so damage means
// something outside the hook wrote it, and guessing could hide a conflict.
func DecodeEntry(data []byte) (*Entry, error) { return decodeEntry(data, true) }

// headLines are the entry's lines before the maps: what says whose the
// entry is and whether it is alive.
const headLines = 4

// decodeEntry is DecodeEntry, or, unless withMaps, the head of an entry
// from a prefix of its file (the maps, which may be long, left out).
func decodeEntry(data []byte, withMaps bool) (*Entry, error) {
	var lines []string
	if withMaps {
		if !bytes.HasSuffix(data, []byte("\n")) {
			return nil, fmt.Errorf("truncated: no final newline")
		}
		if lines = strings.Split(string(data[:len(data)-1]), "\n"); len(lines) != 6 {
			return nil, fmt.Errorf("%d lines, want 6", len(lines))
		}
	} else if lines = strings.SplitN(string(data), "\n", headLines+1); len(lines) <= headLines {
		return nil, fmt.Errorf("%d lines, want 6", len(lines)-1)
	}
	if lines[0] != entryHeader {
		return nil, fmt.Errorf("line 1: unknown header %q (want %q)", clip(lines[0]), entryHeader)
	}
	e := &Entry{}
	fields := func(n, want int) ([]string, error) {
		f := strings.Split(lines[n], "\t")
		if len(f) != want {
			return nil, fmt.Errorf("line %d: %d fields, want %d", n+1, len(f), want)
		}
		return f, nil
	}
	f, err := fields(1, 2)
	if err != nil {
		return nil, err
	}
	if e.NS.Dev, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return nil, fmt.Errorf("line 2: device: %w", err)
	}
	if e.NS.Ino, err = strconv.ParseUint(f[1], 10, 64); err != nil || e.NS.Ino == 0 {
		return nil, fmt.Errorf("line 2: inode %q: not a positive number", clip(f[1]))
	}
	if f, err = fields(2, 3); err != nil {
		return nil, err
	}
	for i, dst := range []*string{&e.PodKey, &e.Namespace, &e.Pod} {
		if *dst, err = unesc(f[i]); err != nil {
			return nil, fmt.Errorf("line 3: field %d: %w", i+1, err)
		}
	}
	if f, err = fields(3, 5); err != nil {
		return nil, err
	}
	if e.Container, err = unesc(f[0]); err != nil {
		return nil, fmt.Errorf("line 4: field 1: %w", err)
	}
	if e.ContainerID, err = unesc(f[1]); err != nil {
		return nil, fmt.Errorf("line 4: field 2: %w", err)
	}
	if e.PID, err = strconv.Atoi(f[2]); err != nil || e.PID <= 0 {
		return nil, fmt.Errorf("line 4: pid %q: not a positive number", clip(f[2]))
	}
	if e.StartTime, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return nil, fmt.Errorf("line 4: start time: %w", err)
	}
	if e.NSPath, err = unesc(f[4]); err != nil {
		return nil, fmt.Errorf("line 4: field 5: %w", err)
	}
	if !withMaps {
		return e, nil
	}
	if e.UIDMaps, err = decodeMaps(lines[4]); err != nil {
		return nil, fmt.Errorf("line 5: uid map: %w", err)
	}
	if e.GIDMaps, err = decodeMaps(lines[5]); err != nil {
		return nil, fmt.Errorf("line 6: gid map: %w", err)
	}
	return e, nil
}

// esc percent-encodes s for one field of an entry: every byte but ASCII
// letters, digits and "-._~:/@" is written %XX, so that no tab, newline,
// '%' or control character survives. "-" alone is the empty string, so a
// real "-" is written escaped.
func esc(s string) string {
	if s == "" {
		return "-"
	}
	if s == "-" {
		return "%2D"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:/@", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func unesc(s string) (string, error) {
	if s == "-" {
		return "", nil
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("invalid escape %q", clip(s[i:]))
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || strings.ContainsAny(s[i+1:i+3], "+-") {
			return "", fmt.Errorf("invalid escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
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

// decodeMaps reads "container:host:size,..." (or "-"), byte by byte: an
// entry may hold 340 extents a side.
func decodeMaps(s string) ([]rspec.LinuxIDMapping, error) {
	if s == "-" {
		return nil, nil
	}
	n := strings.Count(s, ",") + 1
	if n > idmap.MaxExtents {
		return nil, fmt.Errorf("%d extents, more than %d", n, idmap.MaxExtents)
	}
	maps := make([]rspec.LinuxIDMapping, 0, n)
	for more := true; more; {
		var part string
		part, s, more = strings.Cut(s, ",")
		var v [3]uint32
		p := part
		for j := range v {
			num := p
			if j < 2 {
				var ok bool
				if num, p, ok = strings.Cut(p, ":"); !ok {
					return nil, fmt.Errorf("extent %q: want container:host:size", clip(part))
				}
			}
			x, err := strconv.ParseUint(num, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("extent %q: %w", clip(part), err)
			}
			v[j] = uint32(x)
		}
		if v[2] == 0 {
			return nil, fmt.Errorf("extent %q: size 0", clip(part))
		}
		maps = append(maps, rspec.LinuxIDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]})
	}
	return maps, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
