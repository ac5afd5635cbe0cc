package registry

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// legacyHeader is the first line of the previous format: one file,
// "registry", one line per container.
const legacyHeader = "crio-userns-registry 1"

// takeOverLegacy moves the entries of a previous-format registry into this
// one (a hook upgraded while pods run must keep seeing them) and removes
// the old file. The first container seen of each namespace registers it.
func (t *Txn) takeOverLegacy() error {
	data, err := safefile.Read(t.r.legacyFile(), safefile.Options{Limit: MaxIndexSize, NoFollow: true, Trusted: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := decodeLegacy(data)
	if err != nil {
		return fmt.Errorf("%s: %w", t.r.legacyFile(), err)
	}
	for _, e := range entries {
		if _, ok := t.ix.findNS(e.NS); ok || t.cache[e.NS] != nil {
			continue
		}
		if err := t.writeFile(t.r.entryDir(), fileName(e.NS), e.Encode()); err != nil {
			return err
		}
		if t.d == nil {
			t.d = t.ix.decode()
		}
		t.d.add(e)
		t.cache[e.NS] = e
	}
	if t.d != nil {
		// Write the index now, so that the old file can go.
		if err := t.writeFile(t.r.Dir, "index", t.d.encode()); err != nil {
			return err
		}
		if t.ix, err = parseIndex(t.d.encode()); err != nil {
			return err
		}
	}
	return os.Remove(t.r.legacyFile())
}

// decodeLegacy parses the previous format: tab-separated container ID,
// pod key, namespace, pod, container, pid, start time, namespace device and
// inode, pin path, uid map, gid map.
func decodeLegacy(data []byte) ([]*Entry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []*Entry
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != legacyHeader {
				return nil, fmt.Errorf("line 1: unknown header %q (want %q)", clip(text), legacyHeader)
			}
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 12 {
			return nil, fmt.Errorf("line %d: %d fields, want 12", line, len(f))
		}
		e := &Entry{}
		var err error
		for i, dst := range []*string{&e.ContainerID, &e.PodKey, &e.Namespace, &e.Pod, &e.Container, &e.NSPath} {
			field := []int{0, 1, 2, 3, 4, 9}[i]
			if *dst, err = unesc(f[field]); err != nil {
				return nil, fmt.Errorf("line %d: field %d: %w", line, field+1, err)
			}
		}
		if e.PID, err = strconv.Atoi(f[5]); err != nil || e.PID <= 0 {
			return nil, fmt.Errorf("line %d: pid %q: not a positive number", line, clip(f[5]))
		}
		var n [3]uint64
		for i := range n {
			if n[i], err = strconv.ParseUint(f[6+i], 10, 64); err != nil {
				return nil, fmt.Errorf("line %d: field %d: %w", line, 7+i, err)
			}
		}
		e.StartTime, e.NS = n[0], nsfs.ID{Dev: n[1], Ino: n[2]}
		if e.NS.Ino == 0 {
			return nil, fmt.Errorf("line %d: no namespace inode", line)
		}
		if e.UIDMaps, err = decodeMaps(f[10]); err != nil {
			return nil, fmt.Errorf("line %d: uid map: %w", line, err)
		}
		if e.GIDMaps, err = decodeMaps(f[11]); err != nil {
			return nil, fmt.Errorf("line %d: gid map: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}
