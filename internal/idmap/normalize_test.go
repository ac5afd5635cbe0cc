package idmap

import (
	"reflect"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []rspec.LinuxIDMapping
		want []rspec.LinuxIDMapping
	}{
		{name: "nil", in: nil, want: nil},
		{name: "only zero size", in: []rspec.LinuxIDMapping{m(0, 0, 0)}, want: nil},
		{name: "sorted by container ID", in: mapToRoot, want: []rspec.LinuxIDMapping{m(0, 1000650000, 1), m(1, 200000, 65535)}},
		{name: "contiguous pieces merge", in: []rspec.LinuxIDMapping{m(5, 105, 5), m(0, 100, 5)}, want: []rspec.LinuxIDMapping{m(0, 100, 10)}},
		{name: "contiguous inside only does not merge", in: []rspec.LinuxIDMapping{m(0, 100, 5), m(5, 200, 5)}, want: []rspec.LinuxIDMapping{m(0, 100, 5), m(5, 200, 5)}},
		{name: "merge stops at 32 bits", in: []rspec.LinuxIDMapping{m(0, 0, 4294967295), m(4294967295, 4294967295, 1)}, want: []rspec.LinuxIDMapping{m(0, 0, 4294967295), m(4294967295, 4294967295, 1)}},
		{name: "three-way merge", in: []rspec.LinuxIDMapping{m(2, 12, 1), m(0, 10, 1), m(1, 11, 1)}, want: []rspec.LinuxIDMapping{m(0, 10, 3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]rspec.LinuxIDMapping(nil), tc.in...)
			got := Normalize(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Normalize(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if !reflect.DeepEqual(in, tc.in) {
				t.Fatalf("input modified: %v", tc.in)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	if !Equal(mapToRoot, []rspec.LinuxIDMapping{m(0, 1000650000, 1), m(1, 200000, 65535)}) {
		t.Error("reordered map-to-root should be equal")
	}
	if !Equal([]rspec.LinuxIDMapping{m(0, 100, 10)}, []rspec.LinuxIDMapping{m(0, 100, 4), m(4, 104, 6)}) {
		t.Error("split extent should be equal")
	}
	if Equal([]rspec.LinuxIDMapping{m(0, 200000, 65536)}, []rspec.LinuxIDMapping{m(0, 200000, 65535)}) {
		t.Error("sizes differ")
	}
	if Equal(nil, []rspec.LinuxIDMapping{m(0, 0, 1)}) {
		t.Error("empty vs one")
	}
}
