package idmap

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func m(c, h, s uint32) rspec.LinuxIDMapping {
	return rspec.LinuxIDMapping{ContainerID: c, HostID: h, Size: s}
}

func TestValidate(t *testing.T) {
	many := make([]rspec.LinuxIDMapping, 341)
	for i := range many {
		many[i] = m(uint32(i), 100000+uint32(i), 1)
	}
	for _, tc := range []struct {
		name string
		maps []rspec.LinuxIDMapping
		want []string // Problem.Error() of each problem, in order
	}{
		{name: "empty is structurally valid", maps: nil},
		{name: "auto", maps: []rspec.LinuxIDMapping{m(0, 200000, 65536)}},
		{name: "map-to-root", maps: mapToRoot},
		{name: "identity", maps: []rspec.LinuxIDMapping{m(0, 0, 4294967295)}},
		{name: "340 extents", maps: many[:340]},
		{name: "341 extents", maps: many, want: []string{"341 extents, more than the kernel's limit of 340"}},
		{name: "zero size", maps: []rspec.LinuxIDMapping{m(0, 1, 0)}, want: []string{"extent #1 (0 1 0) has size 0"}},
		{
			name: "host side ends at 2^32",
			maps: []rspec.LinuxIDMapping{m(0, 4294967295, 1)},
			want: []string{"extent #1 (0 4294967295 1) runs past ID 4294967294 on the host side"},
		},
		{
			name: "both sides overflow",
			maps: []rspec.LinuxIDMapping{m(1, 1, 4294967295)},
			want: []string{
				"extent #1 (1 1 4294967295) runs past ID 4294967294 on the container side",
				"extent #1 (1 1 4294967295) runs past ID 4294967294 on the host side",
			},
		},
		{name: "last mappable ID", maps: []rspec.LinuxIDMapping{m(4294967294, 4294967294, 1)}},
		{
			name: "container overlap",
			maps: []rspec.LinuxIDMapping{m(0, 100000, 10), m(5, 300000, 10)},
			want: []string{"extents #1 (0 100000 10) and #2 (5 300000 10) overlap on the container side (IDs 5-9)"},
		},
		{
			name: "host overlap",
			maps: []rspec.LinuxIDMapping{m(0, 100000, 10), m(100, 100009, 1)},
			want: []string{"extents #1 (0 100000 10) and #2 (100 100009 1) overlap on the host side (IDs 100009)"},
		},
		{
			name: "overlap found regardless of order",
			maps: []rspec.LinuxIDMapping{m(50, 500, 10), m(0, 0, 1), m(40, 400, 11)},
			want: []string{"extents #3 (40 400 11) and #1 (50 500 10) overlap on the container side (IDs 50)"},
		},
		{
			name: "nested extent",
			maps: []rspec.LinuxIDMapping{m(0, 1000, 100), m(10, 5000, 5), m(20, 6000, 5)},
			want: []string{
				"extents #1 (0 1000 100) and #2 (10 5000 5) overlap on the container side (IDs 10-14)",
				"extents #1 (0 1000 100) and #3 (20 6000 5) overlap on the container side (IDs 20-24)",
			},
		},
		{name: "adjacent is fine", maps: []rspec.LinuxIDMapping{m(0, 1000, 10), m(10, 1010, 10)}},
		{
			name: "duplicate extent overlaps both sides",
			maps: []rspec.LinuxIDMapping{m(0, 1000, 1), m(0, 1000, 1)},
			want: []string{
				"extents #1 (0 1000 1) and #2 (0 1000 1) overlap on the container side (IDs 0)",
				"extents #1 (0 1000 1) and #2 (0 1000 1) overlap on the host side (IDs 1000)",
			},
		},
		{
			name: "zero size does not count as overlap",
			maps: []rspec.LinuxIDMapping{m(0, 1000, 10), m(5, 1005, 0)},
			want: []string{"extent #2 (5 1005 0) has size 0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Validate(tc.maps)
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.Error())
			}
			if strings.Join(gotS, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("Validate problems:\n%s\nwant:\n%s", strings.Join(gotS, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestValidateKinds(t *testing.T) {
	p := Validate([]rspec.LinuxIDMapping{m(0, 1000, 10), m(3, 2000, 1)})
	if len(p) != 1 || p[0].Kind != Overlap || p[0].Side != ContainerSide || p[0].Index != 1 || p[0].Other != 0 || p[0].Shared != (Range{3, 3}) {
		t.Fatalf("got %+v", p)
	}
}

// The overlap sweep reports what sorting every extent by start first
// reports, in the same order, whether the map comes sorted or not.
func TestOverlapsSortedOrNot(t *testing.T) {
	reference := func(maps []rspec.LinuxIDMapping, side Side, rangeOf func(rspec.LinuxIDMapping) Range) []Problem {
		var idx []int
		for i, m := range maps {
			if m.Size > 0 {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmpUint32(rangeOf(maps[a]).First, rangeOf(maps[b]).First) })
		var probs []Problem
		reach := -1
		for _, i := range idx {
			r := rangeOf(maps[i])
			if reach >= 0 {
				if shared, ok := rangeOf(maps[reach]).Intersect(r); ok {
					probs = append(probs, Problem{Kind: Overlap, Side: side, Index: i, Extent: maps[i], Other: reach, OtherExtent: maps[reach], Shared: shared})
				}
			}
			if reach < 0 || r.Last > rangeOf(maps[reach]).Last {
				reach = i
			}
		}
		return probs
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 2000 {
		var maps []rspec.LinuxIDMapping
		start := uint32(0)
		for range 1 + rng.IntN(12) {
			if round%2 == 0 {
				start += rng.Uint32N(20) // sorted by container start
			} else {
				start = rng.Uint32N(200)
			}
			maps = append(maps, m(start, start/2+rng.Uint32N(100), rng.Uint32N(30)))
			if round%3 == 2 {
				// At the top of the ID space, where extents overflow.
				top := &maps[len(maps)-1]
				top.ContainerID += ^uint32(0) - 220
				top.HostID += ^uint32(0) - 150
			}
		}
		for _, side := range []Side{ContainerSide, HostSide} {
			rangeOf := ContainerRange
			if side == HostSide {
				rangeOf = HostRange
			}
			want := reference(maps, side, rangeOf)
			if got := overlaps(maps, side); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s side of %v:\n got %+v\nwant %+v", side, maps, got, want)
			}
		}
	}
}

// A map of the kernel's most extents, scattered and sorted as runtimes
// write them: what the hook validates for such a pod's every container.
func BenchmarkValidate340(b *testing.B) {
	maps := make([]rspec.LinuxIDMapping, MaxExtents)
	for i := range maps {
		maps[i] = m(uint32(i)*193, 300000+uint32(i)*200, 193)
	}
	for b.Loop() {
		if p := Validate(maps); p != nil {
			b.Fatal(p)
		}
	}
}
