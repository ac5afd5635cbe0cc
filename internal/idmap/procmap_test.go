package idmap

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseProcMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []rspec.LinuxIDMapping
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "identity", in: "         0          0 4294967295\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 4294967295}}},
		{
			name: "map-to-root as the kernel prints it",
			in:   "         1     265536      65535\n         0 1000650000          1\n",
			want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 265536, Size: 65535}, {ContainerID: 0, HostID: 1000650000, Size: 1}},
		},
		{name: "blank lines and tabs", in: "\n0\t100\t1\n\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100, Size: 1}}},
		{name: "two fields", in: "0 1\n", wantErr: `line 1: "0 1": want 3 fields`},
		{name: "four fields", in: "0 1 2 3\n", wantErr: "want 3 fields"},
		{name: "not a number", in: "0 x 1\n", wantErr: `line 1: "0 x 1": field 2`},
		{name: "negative", in: "0 -1 1\n", wantErr: "field 2"},
		{name: "above 32 bits", in: "0 4294967296 1\n", wantErr: "value out of range"},
		{name: "error names the line", in: "0 0 1\n1 1\n", wantErr: "line 2:"},
		// Lines of the kernel's width that its fixed-column reader must
		// leave to the general one, or refuse as that one does.
		{name: "kernel width, above 32 bits", in: "         0 4294967296          1\n", wantErr: "value out of range"},
		{name: "kernel width, a blank field", in: "         0                     1\n", wantErr: "want 3 fields"},
		{name: "kernel width, a tab", in: "\t        0     100000      65536\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}},
		{name: "kernel width, zero-padded", in: "0000000001 0000100000 0000065536\n", want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 100000, Size: 65536}}},
		{name: "kernel width, a sign", in: "        +0     100000      65536\n", wantErr: "field 1"},
		{name: "kernel width, no newline at the end", in: "         0     100000      65536", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcMapString(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFormatProcMapRoundTrip(t *testing.T) {
	in := "         1     265536      65535\n         0 1000650000          1\n"
	maps, err := ParseProcMapString(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatProcMap(maps); got != in {
		t.Fatalf("FormatProcMap = %q, want %q", got, in)
	}
	if got := Triples(maps); !reflect.DeepEqual(got, [][3]uint32{{1, 265536, 65535}, {0, 1000650000, 1}}) {
		t.Fatalf("Triples = %v", got)
	}
}

// The kernel's text of a map of its most extents, as the hook reads it
// twice for such a pod's every container: short numbers (such a map must
// fit in the page the kernel takes a map in) and long ones.
func BenchmarkParseProcMap340(b *testing.B) {
	for _, tc := range []struct {
		name            string
		container, host func(i uint32) uint32
	}{
		{"short", func(i uint32) uint32 { return i }, func(i uint32) uint32 { return 10000 + 2*i }},
		{"long", func(i uint32) uint32 { return i * 193 }, func(i uint32) uint32 { return 1000000000 + i*200 }},
	} {
		maps := make([]rspec.LinuxIDMapping, MaxExtents)
		for i := range maps {
			maps[i] = rspec.LinuxIDMapping{ContainerID: tc.container(uint32(i)), HostID: tc.host(uint32(i)), Size: 1}
		}
		text := []byte(FormatProcMap(maps))
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if got, err := ParseProcMapBytes(text); err != nil || len(got) != MaxExtents {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}

// field10Reference is field10 a byte at a time: spaces, then at least one
// digit, to the field's end, the value at most 2^32-1.
func field10Reference(f []byte) (uint32, bool) {
	j := 0
	for j < len(f) && f[j] == ' ' {
		j++
	}
	if j == len(f) {
		return 0, false
	}
	x, err := strconv.ParseUint(string(f[j:]), 10, 32)
	return uint32(x), err == nil && !strings.ContainsAny(string(f[j:]), "+-")
}

// field10 agrees with the byte-at-a-time reading on every field of spaces
// and digits with one byte changed to each byte value, and on random
// fields over bytes near the ones it tells apart.
func TestField10(t *testing.T) {
	check := func(f []byte) {
		t.Helper()
		got, ok := field10(f)
		want, wantOK := field10Reference(f)
		if ok != wantOK || ok && got != want {
			t.Fatalf("field10(%q) = %d, %v; want %d, %v", f, got, ok, want, wantOK)
		}
	}
	for spaces := 0; spaces <= 10; spaces++ {
		for _, digit := range []byte("0159") {
			f := []byte(strings.Repeat(" ", spaces) + strings.Repeat(string(digit), 10-spaces))
			check(f)
			for pos := range f {
				for c := range 256 {
					g := slices.Clone(f)
					g[pos] = byte(c)
					check(g)
				}
			}
		}
	}
	for _, n := range []uint64{0, 1, 9, 10, 4294967295, 4294967296, 9999999999, 1000000000, 99999999, 100000000} {
		check(fmt.Appendf(nil, "%10d", n))
	}
	alphabet := []byte(" 0123456789/:\x10\x1a\xa0\xb0p\t")
	rng := rand.New(rand.NewPCG(1, 2))
	f := make([]byte, 10)
	for range 200000 {
		spaces := rng.IntN(11)
		for i := range f {
			switch {
			case rng.IntN(8) == 0:
				f[i] = alphabet[rng.IntN(len(alphabet))]
			case i < spaces:
				f[i] = ' '
			default:
				f[i] = byte('0' + rng.IntN(10))
			}
		}
		check(f)
	}
}
