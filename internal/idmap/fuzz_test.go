package idmap

import (
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzParseProcMap checks that the uid_map parser never panics and that what
// it accepts survives a FormatProcMap round trip, and that Validate and
// Normalize keep their promises on whatever it returns.
func FuzzParseProcMap(f *testing.F) {
	for _, s := range []string{
		"", "0 0 4294967295\n", "         1     265536      65535\n         0 1000650000          1\n",
		"0 1\n", "0 x 1", "0 4294967296 1", "\n\t0\t1\t2\n", "0 4294967295 1\n0 0 0\n",
		"         0 4294967296          1\n", "0000000001 0000100000 0000065536\n         0                     1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		maps, err := ParseProcMapString(s)
		// The byte-wise reader agrees with the general one.
		slow, slowErr := ParseProcMap(strings.NewReader(s))
		if (err == nil) != (slowErr == nil) || !reflect.DeepEqual(maps, slow) {
			t.Fatalf("%q: fast %v, %v; general %v, %v", s, maps, err, slow, slowErr)
		}
		if err != nil {
			return
		}
		again, err := ParseProcMapString(FormatProcMap(maps))
		if err != nil {
			t.Fatalf("re-parse of formatted map: %v", err)
		}
		if len(again) != len(maps) {
			t.Fatalf("round trip changed the extent count")
		}
		checkMapInvariants(t, maps)
	})
}

func checkMapInvariants(t *testing.T, maps []rspec.LinuxIDMapping) {
	t.Helper()
	probs := Validate(maps)
	norm := Normalize(maps)
	if !Equal(norm, maps) {
		t.Fatalf("Normalize not idempotent")
	}
	if len(probs) > 0 {
		return
	}
	// For a valid map, normalising must not change any translation.
	for _, e := range maps {
		for _, id := range []uint32{e.ContainerID, e.ContainerID + e.Size - 1} {
			h1, ok1 := ToHost(maps, id)
			h2, ok2 := ToHost(norm, id)
			if h1 != h2 || ok1 != ok2 {
				t.Fatalf("ToHost(%d): %d,%v before, %d,%v after Normalize", id, h1, ok1, h2, ok2)
			}
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(uint32(0), uint32(200000), uint32(65536), uint32(0), uint32(1000650000), uint32(1))
	f.Add(uint32(1), uint32(1), uint32(4294967295), uint32(0), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, c1, h1, s1, c2, h2, s2 uint32) {
		maps := []rspec.LinuxIDMapping{{ContainerID: c1, HostID: h1, Size: s1}, {ContainerID: c2, HostID: h2, Size: s2}}
		probs := Validate(maps)
		overlapC := s1 > 0 && s2 > 0 && ContainerRange(maps[0]).Overlaps(ContainerRange(maps[1]))
		overlapH := s1 > 0 && s2 > 0 && HostRange(maps[0]).Overlaps(HostRange(maps[1]))
		var gotC, gotH bool
		for _, p := range probs {
			_ = p.Error()
			if p.Kind == Overlap {
				gotC = gotC || p.Side == ContainerSide
				gotH = gotH || p.Side == HostSide
			}
		}
		if gotC != overlapC || gotH != overlapH {
			t.Fatalf("overlap report (%v,%v) disagrees with pairwise check (%v,%v) for %v", gotC, gotH, overlapC, overlapH, maps)
		}
		checkMapInvariants(t, maps)
	})
}

func FuzzParseSubID(f *testing.F) {
	for _, s := range []string{"", "containers:200000:268435456\n", "# x\ncore:1:1", "a:4294967295:1", "a::", ":::", "a:1:0", "0:1:1\ngarbage\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		file, err := ParseSubIDFile(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, e := range file.Entries {
			r := e.Range()
			if r.Last < r.First || r.Size() != uint64(e.Count) || r.Last > MaxID {
				t.Fatalf("entry %+v gives range %v", e, r)
			}
			// Every valid entry reads back as itself.
			back, err := ParseSubID(strings.NewReader(e.String()))
			if err != nil || len(back) != 1 || back[0].Owner != e.Owner || back[0].Start != e.Start || back[0].Count != e.Count {
				t.Fatalf("round trip of %+v: %+v, %v", e, back, err)
			}
		}
		for _, b := range file.Bad {
			if b.Line < 1 || b.Err == nil {
				t.Fatalf("bad line %+v", b)
			}
		}
		strict, err := ParseSubID(strings.NewReader(s))
		if (err == nil) != (len(file.Bad) == 0) || (err == nil && len(strict) != len(file.Entries)) {
			t.Fatalf("ParseSubID (%d entries, %v) disagrees with ParseSubIDFile (%d entries, %d bad)", len(strict), err, len(file.Entries), len(file.Bad))
		}
		_, _ = file.Owned("containers", "0")
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"1000000000-1999999999", "7", "9-5", "-", "0-4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		if r.Last < r.First {
			t.Fatalf("ParseRange(%q) = %v", s, r)
		}
		if back, err := ParseRange(r.String()); err != nil || back != r {
			t.Fatalf("round trip of %v: %v, %v", r, back, err)
		}
	})
}
