package registry

import (
	"bytes"
	"fmt"
	"hash/adler32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/idmap"
)

func maps(ms ...uint32) []rspec.LinuxIDMapping {
	var out []rspec.LinuxIDMapping
	for i := 0; i+2 < len(ms); i += 3 {
		out = append(out, rspec.LinuxIDMapping{ContainerID: ms[i], HostID: ms[i+1], Size: ms[i+2]})
	}
	return out
}

var projectRange = &idmap.Range{First: 1000000000, Last: 1999999999}

func TestEntryEncodeDecode(t *testing.T) {
	for _, e := range []*Entry{
		{NS: nsfs.ID{Dev: 4, Ino: 4026532000}, PodKey: "sandbox:s1", Namespace: "proj", Pod: "web", Container: "app", ContainerID: "c1",
			PID: 42, StartTime: 1234, NSPath: "/run/crio/ns/userns/x y",
			UIDMaps: maps(1, 200000, 65535, 0, 1000650000, 1), GIDMaps: maps(0, 200000, 65536)},
		{NS: nsfs.ID{Ino: 1}, Namespace: "tab\there", Pod: "new\nline", Container: "-", ContainerID: "100%", PID: 1, GIDMaps: maps(0, 1, 1)},
		// The same maps on both sides, as a rule, and the widest numbers.
		{NS: nsfs.ID{Ino: 2}, PID: 1, UIDMaps: maps(0, 4294967294, 1, 1, 1000000000, 999999999, 4294967295, 9, 10),
			GIDMaps: maps(0, 4294967294, 1, 1, 1000000000, 999999999, 4294967295, 9, 10)},
		{NS: nsfs.ID{Ino: 3}, PID: 1, UIDMaps: maps(0, 1, 1), GIDMaps: maps(0, 1, 2)},
	} {
		data := e.Encode()
		if n := strings.Count(string(data), "\n"); n != 6 {
			t.Fatalf("%d lines:\n%s", n, data)
		}
		got, err := DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip:\n in %+v\nout %+v", e, got)
		}
	}
}

func TestDecodeEntryErrors(t *testing.T) {
	good := (&Entry{NS: nsfs.ID{Dev: 1, Ino: 2}, PID: 1, UIDMaps: maps(0, 1, 1)}).Encode()
	lines := strings.Split(strings.TrimSuffix(string(good), "\n"), "\n")
	with := func(line int, field int, v string) string {
		l := slices.Clone(lines)
		f := strings.Split(l[line], "\t")
		f[field] = v
		l[line] = strings.Join(f, "\t")
		return strings.Join(l, "\n") + "\n"
	}
	for _, tc := range []struct{ name, in, want string }{
		{"bad header", "crio-userns-registry-entry 1\n1\t2\n-\t-\t-\n-\t-\t1\t0\t-\n-\n-\n", `line 1: unknown header "crio-userns-registry-entry 1" (want "crio-userns-registry-entry 2")`},
		{"truncated", string(good[:len(good)-5]), "truncated: no final newline"},
		{"few lines", entryHeader + "\n1\t2\n", "2 lines, want 6"},
		{"few fields", with(2, 2, "a\tb\tc"), "line 3: 5 fields, want 3"},
		{"bad inode", with(1, 1, "0"), `line 2: inode "0": not a positive number`},
		{"bad escape", with(2, 0, "%zz"), `line 3: field 1: invalid escape "%zz"`},
		{"bad pid", with(3, 2, "0"), `line 4: pid "0": not a positive number`},
		{"bad start", with(3, 3, "x"), `line 4: start time: strconv.ParseUint: parsing "x": invalid syntax`},
		{"bad map", with(4, 0, "0:1"), `line 5: uid map: extent "0:1": want container:host:size`},
		{"map number", with(5, 0, "0:1:4294967296"), `line 6: gid map: extent "0:1:4294967296": strconv.ParseUint: parsing "4294967296": value out of range`},
		{"zero size", with(4, 0, "0:1:0"), `line 5: uid map: extent "0:1:0": size 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeEntry([]byte(tc.in)); err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

func TestSpansOf(t *testing.T) {
	type sp struct {
		first, last uint32
		root        bool
	}
	conv := func(ss []span) []sp {
		var out []sp
		for _, s := range ss {
			out = append(out, sp{s.first, s.last, s.root})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []rspec.LinuxIDMapping
		want []sp
	}{
		{"one block", maps(0, 200000, 65536), []sp{{200000, 265535, false}}},
		{"map-to-root", maps(1, 200000, 65535, 0, 1000650000, 1), []sp{{200000, 265534, false}, {1000650000, 1000650000, true}}},
		{"single ID, not root", maps(5, 1000650000, 1), []sp{{1000650000, 1000650000, false}}},
		{"contiguous on the host merge", maps(0, 100, 10, 10, 110, 10), []sp{{100, 119, false}}},
		{"size 0 ignored", maps(0, 100, 0), nil},
	} {
		if got := conv(spansOf(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// 340 scattered extents: at most maxSpans spans, covering every one.
	var many []rspec.LinuxIDMapping
	for i := range uint32(340) {
		many = append(many, rspec.LinuxIDMapping{ContainerID: i, HostID: 1000000 + i*i*7, Size: 1})
	}
	ss := spansOf(many)
	if len(ss) != maxSpans {
		t.Fatalf("%d spans", len(ss))
	}
	for _, m := range many {
		if !slices.ContainsFunc(ss, func(s span) bool { return s.first <= m.HostID && m.HostID <= s.last }) {
			t.Fatalf("extent %v not covered by %v", m, ss)
		}
	}
	// The gaps kept are the widest, of equal ones the first: what sorting
	// them all by width, stably, keeps.
	rng := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		var ms []rspec.LinuxIDMapping
		for i := range 2 + rng.IntN(40) {
			// Few distinct widths, so that ties are common.
			ms = append(ms, rspec.LinuxIDMapping{ContainerID: uint32(i), HostID: uint32(i)*100 + 10*rng.Uint32N(4), Size: 1})
		}
		var rs []idmap.Range
		for _, m := range ms {
			rs = append(rs, idmap.HostRange(m))
		}
		rs = idmap.MergeRanges(rs)
		if len(rs) > maxSpans {
			gaps := make([]int, len(rs)-1)
			for i := range gaps {
				gaps[i] = i
			}
			slices.SortStableFunc(gaps, func(a, b int) int {
				return int(rs[b+1].First-rs[b].Last) - int(rs[a+1].First-rs[a].Last)
			})
			keep := gaps[:maxSpans-1]
			slices.Sort(keep)
			var want []idmap.Range
			start := 0
			for _, g := range keep {
				want = append(want, idmap.Range{First: rs[start].First, Last: rs[g].Last})
				start = g + 1
			}
			want = append(want, idmap.Range{First: rs[start].First, Last: rs[len(rs)-1].Last})
			rs = want
		}
		var got []idmap.Range
		for _, s := range spansOf(ms) {
			got = append(got, idmap.Range{First: s.first, Last: s.last})
		}
		if !slices.Equal(got, rs) {
			t.Fatalf("%v: spans %v, want %v", ms, got, rs)
		}
	}
}

// The in-place lookups agree with a brute-force scan, whatever is added
// and removed.
func TestIndexQueries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &indexData{}
	live := map[nsfs.ID]*Entry{}
	podNS := map[string]nsfs.ID{} // the latest namespace of each pod
	spans := map[nsfs.ID][2][]span{}
	for round := range 400 {
		if len(live) > 0 && rng.IntN(3) == 0 {
			for id, e := range live {
				d.remove(id)
				delete(live, id)
				if podNS[e.PodKey] == id {
					delete(podNS, e.PodKey)
				}
				break
			}
		} else {
			e := &Entry{NS: nsfs.ID{Dev: uint64(rng.IntN(3)), Ino: uint64(round + 1)}, PodKey: fmt.Sprintf("pod%d", rng.IntN(50)), Namespace: "ns"}
			n := 1 + rng.IntN(20)
			if rng.IntN(4) == 0 {
				n = 340
			}
			for i := range n {
				e.UIDMaps = append(e.UIDMaps, rspec.LinuxIDMapping{ContainerID: uint32(i), HostID: rng.Uint32N(1 << 24), Size: 1 + rng.Uint32N(70000)})
			}
			e.GIDMaps = maps(0, rng.Uint32N(1<<30), 65536)
			if rng.IntN(3) == 0 {
				e.GIDMaps = slices.Clone(e.UIDMaps) // as a rule
			}
			// Adding by splicing the bytes gives what decoding, adding and
			// encoding gives.
			before, err := parseIndex(d.encode())
			if err != nil {
				t.Fatal(err)
			}
			spliced, ok := before.withAdded(e)
			d.add(e)
			if !ok || !bytes.Equal(spliced, d.encode()) {
				t.Fatalf("round %d: withAdded differs from add (ok %v)", round, ok)
			}
			live[e.NS] = e
			podNS[e.PodKey] = e.NS
			spans[e.NS] = [2][]span{spansOf(e.UIDMaps), spansOf(e.GIDMaps)}
		}
		ix, err := parseIndex(d.encode())
		if err != nil {
			t.Fatal(err)
		}
		if ix.nNS != len(live) {
			t.Fatalf("round %d: %d namespaces, want %d", round, ix.nNS, len(live))
		}
		for id := range live {
			if _, ok := ix.findNS(id); !ok {
				t.Fatalf("round %d: %v not found", round, id)
			}
			if _, ok := ix.findNS(nsfs.ID{Dev: id.Dev, Ino: id.Ino + 100000}); ok {
				t.Fatal("found a namespace that is not there")
			}
		}
		for range 20 {
			side := rng.IntN(2)
			first := rng.Uint32N(1 << 24)
			last := first + rng.Uint32N(100000)
			got := map[nsfs.ID]bool{}
			// Whatever the hint, the same spans.
			ix.overlapping(side, first, last, rng.IntN(ix.nSpan[side]+3)-1, func(s span) { got[ix.ns(s.ns).id] = true })
			want := map[nsfs.ID]bool{}
			for id := range live {
				for _, s := range spans[id][side] {
					if s.first <= last && s.last >= first {
						want[id] = true
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: overlapping(%d, %d, %d) = %v, want %v", round, side, first, last, got, want)
			}
		}
		for pod, id := range podNS {
			i, ok := ix.podNS(hashString(pod))
			if !ok || ix.ns(i).id != id {
				t.Fatalf("round %d: pod %s -> %v, %v; want %v", round, pod, i, ok, id)
			}
		}
		if ix.nPod != len(podNS) {
			t.Fatalf("round %d: %d pods, want %d", round, ix.nPod, len(podNS))
		}
	}
}

// startingBy gives the bisection's answer whatever hint it starts from.
func TestStartingBy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := &indexData{}
	for i := range 40 {
		d.add(&Entry{NS: nsfs.ID{Dev: 1, Ino: uint64(i + 1)}, UIDMaps: maps(0, rng.Uint32N(1000), 1+rng.Uint32N(50))})
	}
	ix, err := parseIndex(d.encode())
	if err != nil {
		t.Fatal(err)
	}
	n := ix.nSpan[0]
	for id := uint32(0); id < 1100; id += 7 {
		want := 0
		for want < n && ix.span(0, want).first <= id {
			want++
		}
		for hint := -2; hint <= n+2; hint++ {
			if got := ix.startingBy(0, id, hint); got != want {
				t.Fatalf("startingBy(%d) from hint %d = %d, want %d", id, hint, got, want)
			}
		}
	}
}

// clearAround says a range meets no span only when none does, from
// whatever position it looks; and from the position the search gives,
// whenever none does.
func TestClearAround(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	d := &indexData{}
	for i := range 40 {
		d.add(&Entry{NS: nsfs.ID{Dev: 1, Ino: uint64(i + 1)}, UIDMaps: maps(0, rng.Uint32N(3000), 1+rng.Uint32N(50), 100, 3000+rng.Uint32N(1000), 1+rng.Uint32N(20))})
	}
	ix, err := parseIndex(d.encode())
	if err != nil {
		t.Fatal(err)
	}
	n := ix.nSpan[0]
	clear := 0
	for first := uint32(0); first < 4200; first += 3 {
		for _, size := range []uint32{1, 5, 40} {
			last := first + size - 1
			meets := false
			for i := range n {
				s := ix.span(0, i)
				meets = meets || s.first <= last && s.last >= first
			}
			for lo := -1; lo <= n+1; lo++ {
				if ix.clearAround(0, lo, first, last) && meets {
					t.Fatalf("[%d, %d] from %d: clear, but a span meets it", first, last, lo)
				}
			}
			if at := ix.startingBy(0, last, 0); !meets && !ix.clearAround(0, at, first, last) {
				t.Fatalf("[%d, %d] from %d: meets no span, not seen", first, last, at)
			}
			if !meets {
				clear++
			}
		}
	}
	if clear == 0 {
		t.Fatal("no range meets no span: the test tests nothing")
	}
}

func TestParseIndexDamage(t *testing.T) {
	d := &indexData{}
	d.add(&Entry{NS: nsfs.ID{Dev: 1, Ino: 2}, PodKey: "p", UIDMaps: maps(0, 1, 1)})
	good := d.encode()
	for name, data := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXXXXXX"), good[8:]...),
		"version":   func() []byte { b := slices.Clone(good); b[8] = 9; return b }(),
		"checksum":  func() []byte { b := slices.Clone(good); b[headerSize] ^= 1; return b }(),
		"truncated": good[:len(good)-8],
		// The previous version, summed with Adler-32: rebuilt from the
		// entries rather than read with the wrong sum.
		"version 2": func() []byte {
			b := slices.Clone(good[:len(good)-4])
			b[8] = 2
			return le.AppendUint32(b, adler32.Checksum(b))
		}(),
	} {
		if _, err := parseIndex(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseIndex(good); err != nil {
		t.Fatal(err)
	}
}

// checksumReference is the index checksum as first written, a call per
// word: what every index file on disk was summed with.
func checksumReference(b []byte) uint32 {
	const m = 0x9e3779b97f4a7c15 // odd: multiplying by it is a bijection
	mix := func(h, w uint64) uint64 {
		h = (h ^ w) * m
		return h ^ h>>32
	}
	// Four lanes, so that the multiplications of one word need not wait
	// for those of the word before.
	h0, h1, h2, h3 := mix(m, uint64(len(b))), uint64(1), uint64(2), uint64(3)
	for ; len(b) >= 32; b = b[32:] {
		h0, h1, h2, h3 = mix(h0, le.Uint64(b)), mix(h1, le.Uint64(b[8:])), mix(h2, le.Uint64(b[16:])), mix(h3, le.Uint64(b[24:]))
	}
	for ; len(b) >= 8; b = b[8:] {
		h0 = mix(h0, le.Uint64(b))
	}
	var tail [8]byte
	copy(tail[:], b)
	return uint32(mix(mix(mix(mix(h0, le.Uint64(tail[:])), h1), h2), h3))
}

// The checksum is the one index files were written with, at every length
// around its 32- and 8-byte steps.
func TestChecksumStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for n := range 200 {
		if got, want := checksum(data[:n]), checksumReference(data[:n]); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
	for _, n := range []int{1000, 4095, 4096} {
		if got, want := checksum(data[:n]), checksumReference(data[:n]); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
}

// The checksum sees every single-bit flip, a swap of two words, a byte
// lost or added, and damage in the last, partial word.
func TestChecksumSeesDamage(t *testing.T) {
	d := &indexData{}
	for i := range 8 {
		d.add(&Entry{NS: nsfs.ID{Dev: 4, Ino: uint64(4026531840 + i)}, PodKey: fmt.Sprintf("sandbox:%d", i), Namespace: "proj", UIDMaps: maps(0, 200000+uint32(i)*65536, 65536)})
	}
	body := d.encode()
	body = body[:len(body)-4]
	sum := checksum(body)
	for bit := range len(body) * 8 {
		b := slices.Clone(body)
		b[bit/8] ^= 1 << (bit % 8)
		if checksum(b) == sum {
			t.Fatalf("bit %d flipped unseen", bit)
		}
	}
	swapped := slices.Clone(body)
	copy(swapped[40:48], body[48:56])
	copy(swapped[48:56], body[40:48])
	for name, b := range map[string][]byte{
		"words swapped": swapped,
		"byte lost":     body[:len(body)-1],
		"byte added":    append(slices.Clone(body), 0),
		"tail damaged":  append(slices.Clone(body[:len(body)-3]), 1, 2, 3),
	} {
		if checksum(b) == sum {
			t.Errorf("%s: unseen", name)
		}
	}
}

func TestConflicts(t *testing.T) {
	self := &Entry{NS: nsfs.ID{Ino: 1}, PodKey: "sandbox:a", Namespace: "proj", UIDMaps: maps(1, 200000, 65535, 0, 1000650000, 1), GIDMaps: maps(0, 200000, 65536)}
	for _, tc := range []struct {
		name  string
		other Entry
		want  []string // "map mine-index shared"
	}{
		{"disjoint", Entry{NS: nsfs.ID{Ino: 2}, UIDMaps: maps(0, 265535, 65536), GIDMaps: maps(0, 265536, 65536)}, nil},
		{"same namespace", Entry{NS: nsfs.ID{Ino: 1}, PodKey: "sandbox:b", UIDMaps: self.UIDMaps, GIDMaps: self.GIDMaps}, nil},
		{"same pod key is not enough", Entry{NS: nsfs.ID{Ino: 2}, PodKey: "sandbox:a", UIDMaps: maps(0, 265000, 1000)}, []string{"uid_map 0 265000-265534"}},
		{"uid overlap", Entry{NS: nsfs.ID{Ino: 2}, UIDMaps: maps(0, 265000, 1000)}, []string{"uid_map 0 265000-265534"}},
		{"gid overlap at the edge", Entry{NS: nsfs.ID{Ino: 2}, GIDMaps: maps(0, 100000, 100001)}, []string{"gid_map 0 200000"}},
		{"same project shares root", Entry{NS: nsfs.ID{Ino: 2}, Namespace: "proj", UIDMaps: maps(0, 1000650000, 1)}, nil},
		{"other project, same root", Entry{NS: nsfs.ID{Ino: 2}, Namespace: "other", UIDMaps: maps(0, 1000650000, 1)}, []string{"uid_map 1 1000650000"}},
		{"same project, root inside a large extent", Entry{NS: nsfs.ID{Ino: 2}, Namespace: "proj", UIDMaps: maps(0, 1000600000, 100000)}, []string{"uid_map 1 1000650000"}},
		{"many extents", Entry{NS: nsfs.ID{Ino: 2}, UIDMaps: maps(0, 1, 1, 1, 200010, 5, 6, 250000, 1, 7, 9, 1)},
			[]string{"uid_map 0 200010-200014", "uid_map 0 250000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Conflicts(self, &tc.other, projectRange) {
				got = append(got, fmt.Sprintf("%s %d %s", c.Map, c.MineIndex, c.Shared))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("conflicts %v, want %v", got, tc.want)
			}
		})
	}
	other := &Entry{NS: nsfs.ID{Ino: 2}, Namespace: "proj", UIDMaps: maps(0, 1000650000, 1)}
	if len(Conflicts(self, other, nil)) != 1 {
		t.Fatal("root sharing must need the project range")
	}
}

// proc is a fake /proc for liveness: ns/user is a plain file whose inode
// stands for the namespace.
type proc struct {
	t    testing.TB
	root string
}

func (p proc) spawn(pid int, start uint64) Identity {
	p.t.Helper()
	d := filepath.Join(p.root, strconv.Itoa(pid))
	if err := os.MkdirAll(filepath.Join(d, "ns"), 0o755); err != nil {
		p.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "ns", "user"), nil, 0o644)
	os.WriteFile(filepath.Join(d, "stat"), fmt.Appendf(nil, "%d (sh) S%s %d 0\n", pid, strings.Repeat(" 1", 18), start), 0o644)
	id, err := Identify(p.root, pid)
	if err != nil {
		p.t.Fatal(err)
	}
	return id
}

func (p proc) kill(pid int) { os.RemoveAll(filepath.Join(p.root, strconv.Itoa(pid))) }

func entryFor(id Identity, pod string, pid int, uid []rspec.LinuxIDMapping) *Entry {
	return &Entry{NS: id.NS, PodKey: "sandbox:" + pod, Namespace: "ns-" + pod, Pod: pod, Container: "c", ContainerID: "c-" + pod,
		PID: pid, StartTime: id.StartTime, UIDMaps: uid, GIDMaps: uid}
}

func TestAlive(t *testing.T) {
	p := proc{t, t.TempDir()}
	id := p.spawn(10, 500)
	e := entryFor(id, "a", 10, nil)
	if !Alive(p.root, e) {
		t.Fatal("running process reported dead")
	}
	e2 := *e
	e2.StartTime = 501 // pid reused by a later process
	if Alive(p.root, &e2) {
		t.Fatal("reused pid reported alive")
	}
	p.kill(10)
	if Alive(p.root, e) {
		t.Fatal("dead process reported alive")
	}
	// The pod's pin keeps the namespace alive without a process.
	pin := filepath.Join(p.root, "pin")
	os.WriteFile(pin, nil, 0o644)
	e.NSPath = pin
	e.NS, _ = nsfs.Stat(pin)
	if !Alive(p.root, e) {
		t.Fatal("pinned namespace reported dead")
	}
	os.Remove(pin)
	os.WriteFile(pin, []byte("x"), 0o644) // a new file: another inode
	if id2, _ := nsfs.Stat(pin); id2 != e.NS && Alive(p.root, e) {
		t.Fatal("replaced pin reported alive")
	}
}

func TestStartTime(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		stat string
		want uint64
		err  string
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 1 2\n", 99, ""},
		{"7 (a ) b) R 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 1234 1 2\n", 1234, ""},
		{"7 no paren\n", 0, "no ')' after the command name"},
		{"7 (x) S 1 2\n", 0, "3 fields after the command name, want at least 20"},
	} {
		p := filepath.Join(dir, "stat")
		os.WriteFile(p, []byte(tc.stat), 0o644)
		got, err := startTime(p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.stat, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %d %v", tc.stat, got, err)
		}
	}
}

// check runs one hook's transaction: query, record when there is no
// conflict (or force), close.
func check(t testing.TB, r *Registry, self *Entry, force bool) (*Result, Stats) {
	t.Helper()
	tx, err := r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Query(self, projectRange)
	if err != nil {
		tx.Close()
		t.Fatal(err)
	}
	if force || (len(res.Conflicts) == 0 && res.PodElsewhere == nil && res.OtherPod == nil) {
		if err := tx.Record(self, res); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	return res, tx.Stats
}

func registered(t *testing.T, r *Registry) []string {
	t.Helper()
	tx, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var pods []string
	for i := range tx.Len() {
		e, err := tx.entry(i)
		if err != nil || e == nil {
			t.Fatalf("entry %d: %v %v", i, e, err)
		}
		pods = append(pods, e.Pod)
	}
	slices.Sort(pods)
	return pods
}

func TestTxn(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: filepath.Join(t.TempDir(), "run"), ProcRoot: p.root}

	a := entryFor(p.spawn(1, 1), "a", 1, maps(0, 200000, 65536))
	if res, st := check(t, r, a, false); len(res.Conflicts) != 0 || res.Registered || !st.Written {
		t.Fatalf("first pod: %+v %+v", res, st)
	}
	// The pod's second container, in the same namespace: found by key,
	// nothing written.
	if res, st := check(t, r, a, false); !res.Registered || st.Written || st.Read != 1 {
		t.Fatalf("second container: %+v %+v", res, st)
	}
	b := entryFor(p.spawn(2, 1), "b", 2, maps(0, 265536, 65536))
	if res, _ := check(t, r, b, false); len(res.Conflicts) != 0 {
		t.Fatalf("disjoint pod: %+v", res)
	}
	// c collides with a: refused, not recorded.
	c := entryFor(p.spawn(3, 1), "c", 3, maps(0, 230000, 10))
	res, _ := check(t, r, c, false)
	if len(res.Conflicts) != 2 || res.Conflicts[0].Other.Pod != "a" {
		t.Fatalf("colliding pod: %+v", res)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("registry after refusal: %v", got)
	}
	// Forced (audit mode), it is recorded anyway.
	check(t, r, c, true)
	if got := registered(t, r); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("registry after audit: %v", got)
	}
	// a dies: d, which collides only with a (and c), passes once both are pruned.
	p.kill(1)
	p.kill(3)
	d := entryFor(p.spawn(4, 1), "d", 4, maps(0, 200000, 5))
	res, st := check(t, r, d, false)
	if len(res.Conflicts) != 0 || st.Pruned < 1 {
		t.Fatalf("dead entries should be pruned: %+v %+v", res, st)
	}
	if got := registered(t, r); slices.Contains(got, "a") {
		t.Fatalf("dead entry kept: %v", got)
	}
	// The pruned entry's file is gone (unless a new namespace got its
	// inode number and so its name).
	if data, err := os.ReadFile(r.entryFile(a.NS)); !os.IsNotExist(err) && !strings.Contains(string(data), "\tns-d\t") {
		t.Fatalf("pruned entry's file: %q %v", data, err)
	}

	// The pod already registered in another live namespace.
	d2 := entryFor(p.spawn(5, 1), "d", 5, maps(0, 900000, 10))
	if res, _ := check(t, r, d2, false); res.PodElsewhere == nil || res.PodElsewhere.NS != d.NS {
		t.Fatalf("pod elsewhere: %+v", res)
	}
	// Another pod in d's namespace.
	e := *d
	e.PodKey, e.Pod = "sandbox:e", "e"
	if res, _ := check(t, r, &e, false); res.OtherPod == nil || res.OtherPod.Pod != "d" {
		t.Fatalf("two pods in one namespace: %+v", res)
	}

	// A namespace inode reused after its namespace died: the stale entry
	// (other pod, other maps) is replaced, not taken for the same pod.
	p.kill(2)
	id2 := p.spawn(2, 9)
	stale := entryFor(id2, "old", 2, maps(0, 7000000, 10))
	stale.StartTime = 1
	check(t, r, stale, true)
	reused := entryFor(id2, "f", 2, maps(0, 3000000, 10))
	if res, _ := check(t, r, reused, false); res.Registered || res.OtherPod != nil {
		t.Fatalf("reused inode: %+v", res)
	}
	if got := registered(t, r); slices.Contains(got, "old") || !slices.Contains(got, "f") {
		t.Fatalf("after reuse: %v", got)
	}

	// The index is derived: lost or damaged, it is rebuilt from the entries.
	before := registered(t, r)
	os.Remove(r.indexFile())
	if got := registered(t, r); !reflect.DeepEqual(got, before) {
		t.Fatalf("rebuilt from the entries: %v, want %v", got, before)
	}
	os.WriteFile(r.indexFile(), []byte("garbage"), 0o600)
	check(t, r, d, false)
	// The run's sweep may have pruned a dead entry on the way; the live
	// ones are all back.
	if got := registered(t, r); !slices.Contains(got, "d") || !slices.Contains(got, "f") || len(slices.DeleteFunc(slices.Clone(got), func(p string) bool { return slices.Contains(before, p) })) > 0 {
		t.Fatalf("after a damaged index: %v, want the live ones of %v", got, before)
	}
	// A damaged entry fails closed, naming the file.
	os.WriteFile(r.entryFile(d.NS), []byte("garbage\n"), 0o600)
	tx, err := r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Query(d, projectRange)
	tx.Close()
	if err == nil || !strings.Contains(err.Error(), r.entryFile(d.NS)+": 1 lines, want 6") {
		t.Fatalf("damaged entry: %v", err)
	}
}

// The sweep removes dead entries that never collide, whichever
// containers start.
func TestSweep(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: t.TempDir(), ProcRoot: p.root}
	for i := 1; i <= 20; i++ {
		check(t, r, entryFor(p.spawn(i, 1), fmt.Sprintf("p%02d", i), i, maps(0, uint32(i)*100000, 1000)), false)
	}
	for i := 1; i <= 20; i++ {
		p.kill(i)
	}
	me := entryFor(p.spawn(100, 1), "me", 100, maps(0, 5000000, 10))
	for run := 0; run < 400 && len(registered(t, r)) > 1; run++ {
		check(t, r, me, false)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, []string{"me"}) {
		t.Fatalf("after sweeping: %v", got)
	}
}

func TestPodNamespace(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: filepath.Join(t.TempDir(), "run"), ProcRoot: p.root}
	if e, err := r.PodNamespace("sandbox:a"); e != nil || err != nil {
		t.Fatalf("empty registry: %v %v", e, err)
	}
	a := entryFor(p.spawn(1, 1), "a", 1, maps(0, 200000, 65536))
	check(t, r, a, false)
	if e, err := r.PodNamespace("sandbox:a"); err != nil || e == nil || e.NS != a.NS {
		t.Fatalf("registered pod: %v %v", e, err)
	}
	if e, err := r.PodNamespace("sandbox:b"); e != nil || err != nil {
		t.Fatalf("other pod: %v %v", e, err)
	}
	p.kill(1)
	if e, err := r.PodNamespace("sandbox:a"); e != nil || err != nil {
		t.Fatalf("dead pod: %v %v", e, err)
	}
}

// A registry of the previous format is taken over on the first run.
func TestTakeOverLegacy(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: t.TempDir(), ProcRoot: p.root}
	id := p.spawn(7, 3)
	legacy := fmt.Sprintf("%s\nc1\tsandbox:x\tproj\tweb\tapp\t7\t3\t%d\t%d\t-\t0:200000:65536\t0:200000:65536\nc2\tsandbox:x\tproj\tweb\tside\t7\t3\t%d\t%d\t-\t0:200000:65536\t0:200000:65536\n",
		legacyHeader, id.NS.Dev, id.NS.Ino, id.NS.Dev, id.NS.Ino)
	os.WriteFile(r.legacyFile(), []byte(legacy), 0o600)
	clash := entryFor(p.spawn(8, 1), "other", 8, maps(0, 230000, 10))
	if res, _ := check(t, r, clash, false); len(res.Conflicts) != 2 || res.Conflicts[0].Other.Pod != "web" {
		t.Fatalf("legacy entry not seen: %+v", res)
	}
	if _, err := os.Stat(r.legacyFile()); !os.IsNotExist(err) {
		t.Fatalf("legacy file kept: %v", err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, []string{"web"}) {
		t.Fatalf("registered: %v", got)
	}
}

func TestUnsafeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	r := &Registry{Dir: dir, ProcRoot: t.TempDir()}
	if _, err := r.Begin(); err == nil || err.Error() != dir+": writable by group or others (mode 0777)" {
		t.Fatalf("error = %v", err)
	}
	os.Chmod(dir, 0o700)
	os.Mkdir(filepath.Join(dir, "ns"), 0o777)
	os.Chmod(filepath.Join(dir, "ns"), 0o777)
	if _, err := r.Begin(); err == nil || err.Error() != dir+"/ns: writable by group or others (mode 0777)" {
		t.Fatalf("error = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	r.Dir = file
	if _, err := r.Begin(); err == nil {
		t.Fatal("a file as registry_dir was accepted")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(string((&Entry{NS: nsfs.ID{Dev: 1, Ino: 2}, PodKey: "k", PID: 1, UIDMaps: maps(0, 1, 2)}).Encode()))
	f.Add(entryHeader + "\n")
	f.Add(string((&Entry{NS: nsfs.ID{Dev: 1, Ino: 2}, PodKey: "k", PID: 1, UIDMaps: maps(0, 4294967294, 1, 1, 10, 99), GIDMaps: maps(0, 4294967294, 1, 1, 10, 99)}).Encode()))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := DecodeEntry([]byte(s))
		if err != nil {
			return
		}
		again, err := DecodeEntry(e.Encode())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v -> %+v, %v", e, again, err)
		}
	})
}

// FuzzParseIndex feeds parseIndex arbitrary bodies with a valid checksum,
// so that the structure checks, not the checksum, meet the input; whatever
// parses must be safe to look up.
func FuzzParseIndex(f *testing.F) {
	d := &indexData{}
	d.add(&Entry{NS: nsfs.ID{Dev: 1, Ino: 2}, PodKey: "p", UIDMaps: maps(0, 1, 10), GIDMaps: maps(0, 5, 1)})
	good := d.encode()
	f.Add(good[:len(good)-4])
	f.Add([]byte(indexMagic))
	f.Fuzz(func(t *testing.T, body []byte) {
		data := le.AppendUint32(slices.Clone(body), checksum(body))
		ix, err := parseIndex(data)
		if err != nil {
			return
		}
		for side := range 2 {
			ix.overlapping(side, 0, ^uint32(0), 0, func(s span) {})
		}
		ix.findNS(nsfs.ID{Dev: 1, Ino: 2})
		ix.podNS(hashString("p"))
	})
}
