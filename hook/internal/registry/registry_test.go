package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

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

func TestEncodeDecode(t *testing.T) {
	in := []Entry{
		{ContainerID: "c1", PodKey: "sandbox:s1", Namespace: "proj", Pod: "web", Container: "app",
			PID: 42, StartTime: 1234, NSDev: 4, NSIno: 4026532000, NSPath: "/run/crio/ns/userns/x y",
			UIDMaps: maps(1, 200000, 65535, 0, 1000650000, 1), GIDMaps: maps(0, 200000, 65536)},
		{ContainerID: "c2", Namespace: "tab\there", Pod: "new\nline", Container: "-", PID: 1, UIDMaps: nil, GIDMaps: maps(0, 1, 1)},
		{ContainerID: "c3", Pod: "100%", PID: 7},
	}
	data := Encode(in)
	if n := strings.Count(string(data), "\n"); n != 4 {
		t.Fatalf("%d lines:\n%s", n, data)
	}
	out, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	if out, err := Decode(Encode(nil)); err != nil || out != nil {
		t.Fatalf("empty registry: %v %v", out, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := strings.TrimSuffix(string(Encode([]Entry{{ContainerID: "c", PID: 1, UIDMaps: maps(0, 1, 1)}})), "\n")
	line := strings.Split(good, "\n")[1]
	f := strings.Split(line, "\t")
	with := func(i int, v string) string {
		g := append([]string(nil), f...)
		g[i] = v
		return header + "\n" + strings.Join(g, "\t") + "\n"
	}
	for _, tc := range []struct{ name, in, want string }{
		{"bad header", "crio-userns-registry 2\n", `line 1: unknown header "crio-userns-registry 2" (want "crio-userns-registry 1")`},
		{"few fields", header + "\na\tb\n", "line 2: 2 fields, want 12"},
		{"empty container", with(0, "-"), "line 2: empty container ID"},
		{"bad escape", with(1, "%zz"), `line 2: field 2: invalid URL escape "%zz"`},
		{"bad pid", with(5, "0"), `line 2: pid "0": not a positive number`},
		{"bad start", with(6, "x"), `line 2: field 7: strconv.ParseUint: parsing "x": invalid syntax`},
		{"bad map", with(10, "0:1"), `line 2: uid map: extent "0:1": want container:host:size`},
		{"map number", with(11, "0:1:4294967296"), `line 2: gid map: extent "0:1:4294967296": strconv.ParseUint: parsing "4294967296": value out of range`},
		{"zero size", with(10, "0:1:0"), `line 2: uid map: extent "0:1:0": size 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.in)); err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	self := Entry{ContainerID: "me", PodKey: "sandbox:a", Namespace: "proj", UIDMaps: maps(1, 200000, 65535, 0, 1000650000, 1), GIDMaps: maps(0, 200000, 65536)}
	for _, tc := range []struct {
		name  string
		other Entry
		want  []string // "map mine-index shared"
	}{
		{"disjoint", Entry{PodKey: "sandbox:b", UIDMaps: maps(0, 265535, 65536), GIDMaps: maps(0, 265536, 65536)}, nil},
		{"same pod", Entry{PodKey: "sandbox:a", UIDMaps: self.UIDMaps, GIDMaps: self.GIDMaps}, nil},
		{"same namespace inode", Entry{PodKey: "sandbox:b", NSDev: 4, NSIno: 9, UIDMaps: self.UIDMaps}, nil},
		{"uid overlap", Entry{PodKey: "sandbox:b", UIDMaps: maps(0, 265000, 1000)}, []string{"uid_map 0 265000-265534"}},
		{"gid overlap at the edge", Entry{PodKey: "sandbox:b", GIDMaps: maps(0, 100000, 100001)}, []string{"gid_map 0 200000"}},
		{"same project shares root", Entry{PodKey: "sandbox:b", Namespace: "proj", UIDMaps: maps(0, 1000650000, 1)}, nil},
		{"other project, same root", Entry{PodKey: "sandbox:b", Namespace: "other", UIDMaps: maps(0, 1000650000, 1)}, []string{"uid_map 1 1000650000"}},
		{"same project, root inside a large extent", Entry{PodKey: "sandbox:b", Namespace: "proj", UIDMaps: maps(0, 1000600000, 100000)}, []string{"uid_map 1 1000650000"}},
		{"many extents", Entry{PodKey: "sandbox:b", UIDMaps: maps(0, 1, 1, 1, 200010, 5, 6, 250000, 1, 7, 9, 1)},
			[]string{"uid_map 0 200010-200014", "uid_map 0 250000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := self
			if tc.name == "same namespace inode" {
				me.NSDev, me.NSIno = 4, 9
			}
			var got []string
			for _, c := range Conflicts(me, tc.other, projectRange) {
				got = append(got, fmt.Sprintf("%s %d %s", c.Map, c.MineIndex, c.Shared))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("conflicts %v, want %v", got, tc.want)
			}
		})
	}
	// Without a project range, even one project's roots collide.
	other := Entry{PodKey: "sandbox:b", Namespace: "proj", UIDMaps: maps(0, 1000650000, 1)}
	if len(Conflicts(self, other, nil)) != 1 {
		t.Fatal("root sharing must need the project range")
	}
}

// proc is a fake /proc for liveness.
type proc struct {
	t    *testing.T
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

func entryFor(id Identity, cid, pod string, pid int, uid []rspec.LinuxIDMapping) Entry {
	return Entry{ContainerID: cid, PodKey: "sandbox:" + pod, Namespace: "ns-" + pod, Pod: pod, Container: "c",
		PID: pid, StartTime: id.StartTime, NSDev: id.NSDev, NSIno: id.NSIno, UIDMaps: uid, GIDMaps: uid}
}

func TestAlive(t *testing.T) {
	p := proc{t, t.TempDir()}
	id := p.spawn(10, 500)
	e := entryFor(id, "c", "a", 10, nil)
	if !Alive(p.root, e) {
		t.Fatal("running process reported dead")
	}
	e2 := e
	e2.StartTime = 501 // pid reused by a later process
	if Alive(p.root, e2) {
		t.Fatal("reused pid reported alive")
	}
	p.kill(10)
	if Alive(p.root, e) {
		t.Fatal("dead process reported alive")
	}
	// The pod's pin keeps the namespace alive without a process.
	pin := filepath.Join(p.root, "pin")
	os.WriteFile(pin, nil, 0o644)
	dev, ino, _ := nsOf(pin)
	e.NSPath, e.NSDev, e.NSIno = pin, dev, ino
	if !Alive(p.root, e) {
		t.Fatal("pinned namespace reported dead")
	}
	os.Remove(pin)
	os.WriteFile(pin, []byte("x"), 0o644) // a new file: another inode
	if _, ino2, _ := nsOf(pin); ino2 != ino && Alive(p.root, e) {
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

func TestCheckAndRecord(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: filepath.Join(t.TempDir(), "run"), ProcRoot: p.root}

	a := entryFor(p.spawn(1, 1), "ca", "a", 1, maps(0, 200000, 65536))
	if c, _, err := r.CheckAndRecord(a, projectRange, true, false); err != nil || len(c) != 0 {
		t.Fatalf("first pod: %v %v", c, err)
	}
	b := entryFor(p.spawn(2, 1), "cb", "b", 2, maps(0, 265536, 65536))
	if c, _, err := r.CheckAndRecord(b, projectRange, true, false); err != nil || len(c) != 0 {
		t.Fatalf("disjoint pod: %v %v", c, err)
	}
	// c collides with a: refused, not recorded.
	c := entryFor(p.spawn(3, 1), "cc", "c", 3, maps(0, 230000, 10))
	got, _, err := r.CheckAndRecord(c, projectRange, true, false)
	if err != nil || len(got) != 2 || got[0].Other.ContainerID != "ca" {
		t.Fatalf("colliding pod: %+v %v", got, err)
	}
	entries, _ := r.read()
	if ids := ids(entries); !reflect.DeepEqual(ids, []string{"ca", "cb"}) {
		t.Fatalf("registry after refusal: %v", ids)
	}
	// force (audit mode) records it anyway.
	if got, _, _ := r.CheckAndRecord(c, projectRange, true, true); len(got) != 2 {
		t.Fatalf("audit: %v", got)
	}
	entries, _ = r.read()
	if ids := ids(entries); len(ids) != 3 {
		t.Fatalf("registry after audit: %v", ids)
	}
	// a dies: d, which collides only with a, passes and a is pruned.
	p.kill(1)
	d := entryFor(p.spawn(4, 1), "cd", "d", 4, maps(0, 200000, 5))
	got, st, err := r.CheckAndRecord(d, projectRange, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || st.Pruned == 0 {
		t.Fatalf("dead entry should be pruned: %+v %+v", got, st)
	}
	entries, _ = r.read()
	for _, e := range entries {
		if e.ContainerID == "ca" {
			t.Fatalf("dead entry kept: %v", ids(entries))
		}
	}
	// Check (validate) never writes.
	before, _ := os.ReadFile(r.File())
	if got, _, err := r.Check(entryFor(Identity{}, "x", "x", 9, maps(0, 265536, 1)), projectRange); err != nil || len(got) != 2 {
		t.Fatalf("Check: %v %v", got, err)
	}
	after, _ := os.ReadFile(r.File())
	if string(before) != string(after) {
		t.Fatal("Check wrote the registry")
	}
	// A missing registry is empty for Check.
	empty := &Registry{Dir: filepath.Join(t.TempDir(), "none"), ProcRoot: p.root}
	if got, _, err := empty.Check(d, projectRange); err != nil || got != nil {
		t.Fatalf("Check on no registry: %v %v", got, err)
	}
}

// The sweep removes dead entries that never collide, a few per run.
func TestSweep(t *testing.T) {
	p := proc{t, t.TempDir()}
	r := &Registry{Dir: t.TempDir(), ProcRoot: p.root}
	for i := 1; i <= 20; i++ {
		e := entryFor(p.spawn(i, 1), fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", i), i, maps(0, uint32(i)*100000, 1000))
		if _, _, err := r.CheckAndRecord(e, nil, true, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 20; i++ {
		p.kill(i)
	}
	for run := 0; run < 20/SweepPerRun+1; run++ {
		e := entryFor(p.spawn(100, 1), "me", "me", 100, maps(0, 5000000, 10))
		if _, _, err := r.CheckAndRecord(e, nil, true, false); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := r.read()
	if ids := ids(entries); !reflect.DeepEqual(ids, []string{"me"}) {
		t.Fatalf("after sweeping: %v", ids)
	}
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ContainerID)
	}
	return out
}

func FuzzDecode(f *testing.F) {
	f.Add(string(Encode([]Entry{{ContainerID: "c1", PodKey: "k", PID: 1, UIDMaps: maps(0, 1, 2)}})))
	f.Add(header + "\n")
	f.Add("")
	f.Add(header + "\na\tb\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := Decode([]byte(s))
		if err != nil {
			return
		}
		again, err := Decode(Encode(entries))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(again) != len(entries) || (len(entries) > 0 && !reflect.DeepEqual(again, entries)) {
			t.Fatalf("round trip changed entries:\n%+v\n%+v", entries, again)
		}
	})
}

func TestUnsafeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	r := &Registry{Dir: dir, ProcRoot: t.TempDir()}
	_, _, err := r.CheckAndRecord(Entry{ContainerID: "c", PID: 1}, nil, true, false)
	if err == nil || err.Error() != dir+": writable by group or others (mode 0777)" {
		t.Fatalf("error = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	r.Dir = file
	if _, _, err := r.CheckAndRecord(Entry{ContainerID: "c", PID: 1}, nil, true, false); err == nil {
		t.Fatal("a file as registry_dir was accepted")
	}
}
